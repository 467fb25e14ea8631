// The user menu's dialogs (profile, change password) and the rules for user fields that the
// sign-up page and the Users page share, mirroring the server's own checks.

import * as api from "./api.js";
import { modalForm, toast } from "./components.js";
import { t } from "./i18n.js";
import { loadSession, session } from "./session.js";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// Harbor refuses these characters in user names (src/common/utils: ,"~#$%).
const BAD_USERNAME = /[,"~#$%\s]/;

/** Harbor's password policy: 8 to 128 characters with upper case, lower case and a digit. */
export function checkPassword(value) {
  if (value.length < 8 || value.length > 128) return t("validation.passwordLength");
  if (!/[a-z]/.test(value) || !/[A-Z]/.test(value) || !/[0-9]/.test(value)) return t("validation.passwordPolicy");
  return null;
}

export function checkUsername(value) {
  if (value.length > 255) return t("validation.tooLong", { max: 255 });
  if (BAD_USERNAME.test(value)) return t("validation.username");
  return null;
}

export function checkEmail(value) {
  if (value.length > 255) return t("validation.tooLong", { max: 255 });
  return EMAIL.test(value) ? null : t("validation.email");
}

export function checkConfirm(field) {
  return (value, values) => (value === values[field] ? null : t("validation.passwordMismatch"));
}

/** The fields of a new user, for sign-up and for administrators. */
export function newUserFields() {
  return [
    { name: "username", label: t("user.username"), required: true, autocomplete: "off", validate: checkUsername, serverMatch: ["username", "user name", "already exists"] },
    { name: "email", label: t("user.email"), type: "email", required: true, validate: checkEmail, serverMatch: ["email"] },
    { name: "realname", label: t("user.realname"), required: true, validate: (v) => (v.length > 255 ? t("validation.tooLong", { max: 255 }) : null), serverMatch: ["realname", "real name"] },
    { name: "password", label: t("user.password"), type: "password", required: true, autocomplete: "new-password", trim: false, hint: t("validation.passwordHint"), validate: checkPassword, serverMatch: ["password"] },
    { name: "confirm", label: t("user.confirmPassword"), type: "password", required: true, autocomplete: "new-password", trim: false, validate: checkConfirm("password") },
    { name: "comment", label: t("user.comment"), type: "textarea", validate: (v) => (v.length > 30 ? t("validation.tooLong", { max: 30 }) : null), serverMatch: ["comment"] },
  ];
}

export async function openProfile() {
  const user = session.user;
  await modalForm({
    title: t("account.profile"),
    submitLabel: t("common.save"),
    fields: [
      { name: "username", label: t("user.username"), value: user.username, disabled: true },
      { name: "email", label: t("user.email"), type: "email", value: user.email || "", required: true, validate: checkEmail, serverMatch: ["email"] },
      { name: "realname", label: t("user.realname"), value: user.realname || "", required: true, serverMatch: ["realname", "real name"] },
      { name: "comment", label: t("user.comment"), type: "textarea", value: user.comment || "", validate: (v) => (v.length > 30 ? t("validation.tooLong", { max: 30 }) : null) },
    ],
    onSubmit: async (values) => {
      await api.put(`/users/${user.user_id}`, { email: values.email, realname: values.realname, comment: values.comment });
      await loadSession();
      toast(t("account.profileSaved"));
      return true;
    },
  });
}

export async function openChangePassword() {
  const user = session.user;
  await modalForm({
    title: t("account.changePassword"),
    submitLabel: t("common.save"),
    fields: [
      { name: "old_password", label: t("account.currentPassword"), type: "password", required: true, autocomplete: "current-password", trim: false, serverMatch: ["old password", "current password", "old_password"] },
      { name: "new_password", label: t("account.newPassword"), type: "password", required: true, autocomplete: "new-password", trim: false, hint: t("validation.passwordHint"), validate: checkPassword, serverMatch: ["new password", "new_password", "policy", "same as"] },
      { name: "confirm", label: t("user.confirmPassword"), type: "password", required: true, autocomplete: "new-password", trim: false, validate: checkConfirm("new_password") },
    ],
    onSubmit: async (values) => {
      await api.put(`/users/${user.user_id}/password`, { old_password: values.old_password, new_password: values.new_password });
      toast(t("account.passwordChanged"));
      return true;
    },
  });
}
