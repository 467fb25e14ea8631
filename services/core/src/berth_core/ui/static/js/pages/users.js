// Administration: users — create, grant or revoke admin, reset password, delete.

import * as api from "../api.js";
import { badge, button, confirmDialog, modalForm, pageHeader, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { dateTime } from "../format.js";
import { t } from "../i18n.js";
import { checkConfirm, checkPassword, newUserFields } from "../account.js";
import { session } from "../session.js";
import { actionsColumn, dataTable } from "../table.js";

function createUser() {
  return modalForm({
    title: t("user.new"),
    submitLabel: t("common.create"),
    fields: newUserFields(),
    onSubmit: async (values) => {
      await api.post("/users", { username: values.username, email: values.email, realname: values.realname, password: values.password, comment: values.comment });
      toast(t("user.created", { name: values.username }));
      return true;
    },
  });
}

function resetPassword(user) {
  return modalForm({
    title: t("user.resetPasswordOf", { name: user.username }),
    submitLabel: t("common.save"),
    fields: [
      { name: "new_password", label: t("account.newPassword"), type: "password", required: true, autocomplete: "new-password", trim: false, hint: t("validation.passwordHint"), validate: checkPassword, serverMatch: ["password"] },
      { name: "confirm", label: t("user.confirmPassword"), type: "password", required: true, autocomplete: "new-password", trim: false, validate: checkConfirm("new_password") },
    ],
    onSubmit: async (values) => {
      await api.put(`/users/${user.user_id}/password`, { new_password: values.new_password });
      toast(t("user.passwordReset", { name: user.username }));
      return true;
    },
  });
}

export async function render(root, ctx) {
  ctx.setTitle(t("nav.users"));
  const act = async (work, message) => {
    try {
      await work();
      toast(message);
      table.reload();
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const actions = (user) => {
    if (user.user_id === session.user?.user_id) return h("span", { class: "muted small" }, t("user.you"));
    return h(
      "span",
      { class: "row-actions" },
      button({
        small: true,
        kind: "ghost",
        label: user.sysadmin_flag ? t("user.revokeAdmin") : t("user.grantAdmin"),
        onClick: () => act(() => api.put(`/users/${user.user_id}/sysadmin`, { sysadmin_flag: !user.sysadmin_flag }), user.sysadmin_flag ? t("user.adminRevoked", { name: user.username }) : t("user.adminGranted", { name: user.username })),
      }),
      button({ small: true, kind: "ghost", iconName: "key", title: t("user.resetPasswordOf", { name: user.username }), onClick: () => resetPassword(user) }),
      button({
        small: true,
        kind: "ghost",
        iconName: "trash",
        title: t("user.delete", { name: user.username }),
        onClick: async () => {
          if (await confirmDialog({ title: t("user.deleteTitle"), message: t("user.deleteConfirm", { name: user.username }), confirmLabel: t("common.delete") })) {
            act(() => api.del(`/users/${user.user_id}`), t("user.deleted", { name: user.username }));
          }
        },
      }),
    );
  };
  const table = dataTable({
    label: t("nav.users"),
    sort: "username",
    empty: t("user.none"),
    search: t("user.search"),
    load: ({ page, pageSize, sort, search }) => api.list("/users", { page, page_size: pageSize, sort, q: api.fuzzy("username", search) }),
    columns: [
      { key: "username", label: t("user.username"), sort: "username", render: (u) => h("span", { class: "strong" }, u.username) },
      { key: "sysadmin_flag", label: t("user.admin"), render: (u) => (u.sysadmin_flag ? badge(t("user.adminYes"), "role") : badge(t("user.adminNo"))) },
      { key: "email", label: t("user.email"), sort: "email", render: (u) => u.email || "—" },
      { key: "realname", label: t("user.realname"), render: (u) => u.realname || "—" },
      { key: "creation_time", label: t("common.created"), sort: "creation_time", render: (u) => dateTime(u.creation_time) },
      actionsColumn(actions),
    ],
  });
  const canCreate = (session.info.auth_mode || "db_auth") === "db_auth";
  mount(
    root,
    pageHeader({ title: t("nav.users"), subtitle: t("user.subtitle"), actions: canCreate ? [button({ label: t("user.new"), iconName: "plus", kind: "primary", onClick: async () => (await createUser()) && table.reload() })] : [] }),
    table.el,
  );
}
