// Sign in with a local or LDAP account (Harbor's POST /c/login form).

import { ApiError } from "../api.js";
import { alertBox, createForm } from "../components.js";
import { h, mount } from "../dom.js";
import { initLanguage, t } from "../i18n.js";
import { navigate } from "../router.js";
import { session, signIn } from "../session.js";

function safeRedirect(value) {
  // Only our own pages: never bounce a user to another site after sign-in.
  return value && value.startsWith("/harbor/") && !value.startsWith("//") ? value : "/harbor/projects";
}

export async function render(root, ctx) {
  ctx.setTitle(t("signIn.title"));
  const form = createForm({
    submitLabel: t("signIn.submit"),
    fields: [
      { name: "principal", label: t("signIn.username"), required: true, autocomplete: "username" },
      { name: "password", label: t("signIn.password"), type: "password", required: true, autocomplete: "current-password", trim: false },
    ],
    onSubmit: async (values, { fields }) => {
      try {
        await signIn(values.principal, values.password);
      } catch (error) {
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          fields.password.setError(t("signIn.invalid"));
          fields.password.input.select();
          return;
        }
        throw error;
      }
      await initLanguage(session.user.username);
      await navigate(safeRedirect(ctx.query.get("redirect_url")), { replace: true });
    },
  });
  form.submit.classList.add("btn-block");
  const selfRegistration = session.info.self_registration && (session.info.auth_mode || "db_auth") === "db_auth";
  mount(
    root,
    h(
      "section",
      { class: "auth-card" },
      h("h1", null, t("signIn.title")),
      h("p", { class: "auth-subtitle" }, t("signIn.subtitle")),
      session.expired && alertBox(t("session.expired"), "info"),
      form.el,
      selfRegistration && h("p", { class: "auth-alt" }, t("signIn.noAccount"), " ", h("a", { href: "/account/sign-up" }, t("signIn.signUp"))),
    ),
  );
  form.fields.principal.input.focus();
}
