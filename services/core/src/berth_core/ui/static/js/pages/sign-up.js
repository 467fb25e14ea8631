// Self-registration (only offered when the administrator turned it on, with local accounts).

import * as api from "../api.js";
import { alertBox, createForm, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { newUserFields } from "../account.js";
import { navigate } from "../router.js";
import { session } from "../session.js";

export async function render(root, ctx) {
  ctx.setTitle(t("signUp.title"));
  if (!session.info.self_registration) {
    mount(root, h("section", { class: "auth-card" }, h("h1", null, t("signUp.title")), alertBox(t("signUp.disabled"), "info"), h("p", { class: "auth-alt" }, h("a", { href: "/account/sign-in" }, t("signUp.back")))));
    return;
  }
  const form = createForm({
    submitLabel: t("signUp.submit"),
    fields: newUserFields(),
    onCancel: () => navigate("/account/sign-in"),
    onSubmit: async (values) => {
      await api.post("/users", { username: values.username, email: values.email, realname: values.realname, password: values.password, comment: values.comment });
      toast(t("signUp.done"));
      await navigate("/account/sign-in", { replace: true });
    },
  });
  mount(root, h("section", { class: "auth-card wide" }, h("h1", null, t("signUp.title")), h("p", { class: "auth-subtitle" }, t("signUp.subtitle")), form.el));
}
