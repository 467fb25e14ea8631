// Administration: configuration — authentication (with LDAP and a "test connection" button)
// and system settings. Only changed items are sent; the server validates again and a
// rejected save changes nothing.

import * as api from "../api.js";
import { alertBox, button, card, createForm, loading, pageHeader, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { quotaField, splitBytes } from "../quota.js";
import { loadSession } from "../session.js";

const LDAP_URL = /^ldaps?:\/\/[^\s/]+(:\d+)?\/?$/;
const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const ENDPOINT = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const EVENT_TYPE = /^[a-z]+_[a-z_]+$/i;
const eventTypesOk = (v) => v.split(",").map((s) => s.trim()).filter(Boolean).every((s) => EVENT_TYPE.test(s));
const SCOPES = () => [
  { value: 0, label: t("config.scopeBase") },
  { value: 1, label: t("config.scopeOne") },
  { value: 2, label: t("config.scopeSubtree") },
];

function balancedFilter(value) {
  let depth = 0;
  for (const ch of value) {
    depth += ch === "(" ? 1 : ch === ")" ? -1 : 0;
    if (depth < 0) return false;
  }
  return depth === 0 && value.startsWith("(");
}

function int(min, max) {
  return (value) => {
    const number = Number(value);
    if (!Number.isInteger(number)) return t("validation.integer");
    if (number < min || number > max) return t("validation.range", { min, max });
    return null;
  };
}

const whenLdap = (check) => (value, values) => (values.auth_mode === "ldap_auth" ? check(value, values) : null);

function item(config, name, spec) {
  const current = config[name] || { value: "", editable: true };
  const value = spec.type === "checkbox" ? Boolean(current.value) : String(current.value ?? "");
  return { name, label: t(`config.${name}`), serverMatch: [name], disabled: current.editable === false, value, ...spec };
}

/** The items of a form whose value differs from what the server holds, typed for the PUT. */
function changes(config, values, types) {
  const out = {};
  for (const [name, value] of Object.entries(values)) {
    if (!(name in types)) continue;
    const typed = types[name] === "int" ? Number(value) : value;
    if (name === "ldap_search_password") {
      if (value) out[name] = value; // write-only: only sent when typed
    } else if (config[name] && config[name].editable !== false && typed !== config[name].value) {
      out[name] = typed;
    }
  }
  return out;
}

/** Save the changed items (telling the user when there are none), then reload session and page. */
async function save(body, reload) {
  if (Object.keys(body).length === 0) {
    toast(t("config.noChanges"), "info");
    return;
  }
  await api.put("/configurations", body);
  toast(t("config.saved"));
  await loadSession();
  reload();
}

function authForm(config, reload) {
  const ldapNames = [];
  const ldap = (name, spec) => {
    ldapNames.push(name);
    return item(config, name, spec);
  };
  const fields = [
    item(config, "auth_mode", { type: "select", options: [{ value: "db_auth", label: t("config.dbAuth") }, { value: "ldap_auth", label: t("config.ldapAuth") }], hint: config.auth_mode?.editable === false ? t("config.authModeLocked") : null }),
    item(config, "self_registration", { type: "checkbox", hint: t("config.self_registration.hint") }),
    item(config, "session_timeout", { type: "number", required: true, validate: int(1, 525600), hint: t("config.minutes") }),
    item(config, "token_expiration", { type: "number", required: true, validate: int(1, 525600), hint: t("config.minutes") }),
    item(config, "robot_token_duration", { type: "number", required: true, validate: int(1, 36500), hint: t("config.days") }),
    item(config, "robot_name_prefix", { required: true, validate: (v) => (/^[A-Za-z0-9$_.-]{1,32}$/.test(v) ? null : t("config.prefixRule")) }),
    ldap("ldap_url", { placeholder: "ldaps://ldap.example.com:636", validate: whenLdap((v) => (v === "" ? t("form.required") : LDAP_URL.test(v) ? null : t("config.ldapUrlRule"))) }),
    ldap("ldap_search_dn", { placeholder: "cn=admin,dc=example,dc=com" }),
    ldap("ldap_search_password", { type: "password", value: "", trim: false, autocomplete: "new-password", placeholder: t("config.passwordUnchanged") }),
    ldap("ldap_base_dn", { placeholder: "dc=example,dc=com", validate: whenLdap((v) => (v === "" ? t("form.required") : null)) }),
    ldap("ldap_filter", { placeholder: "(objectClass=person)", validate: (v) => (v === "" || balancedFilter(v) ? null : t("config.filterRule")) }),
    ldap("ldap_uid", { validate: (v) => (ATTRIBUTE.test(v) ? null : t("config.attributeRule")) }),
    ldap("ldap_scope", { type: "select", options: SCOPES() }),
    ldap("ldap_timeout", { type: "number", validate: int(1, 300), hint: t("config.seconds") }),
    ldap("ldap_verify_cert", { type: "checkbox" }),
    ldap("ldap_group_base_dn", {}),
    ldap("ldap_group_search_filter", { validate: (v) => (v === "" || balancedFilter(v) ? null : t("config.filterRule")) }),
    ldap("ldap_group_attribute_name", { validate: (v) => (ATTRIBUTE.test(v) ? null : t("config.attributeRule")) }),
    ldap("ldap_group_search_scope", { type: "select", options: SCOPES() }),
    ldap("ldap_group_admin_dn", {}),
    ldap("ldap_group_membership_attribute", { validate: (v) => (ATTRIBUTE.test(v) ? null : t("config.attributeRule")) }),
  ];
  const types = Object.fromEntries(fields.map((f) => [f.name, f.type === "number" || f.name.endsWith("_scope") ? "int" : f.type === "checkbox" ? "bool" : "str"]));
  const pingResult = h("div", { class: "ping-result", "aria-live": "polite" });
  const pingButton = button({ label: t("config.testLdap"), iconName: "refresh" });
  const form = createForm({
    submitLabel: t("common.save"),
    fields,
    onSubmit: (values) => save(changes(config, values, types), reload),
  });
  const ldapFields = ldapNames.map((name) => form.fields[name].el);
  const ldapHeading = h("h3", { class: "form-section" }, t("config.ldapSection"));
  const pingRow = h("div", { class: "ping-row" }, pingButton, pingResult);
  form.fields.ldap_group_base_dn.el.before(h("h3", { class: "form-section", dataset: { ldap: "" } }, t("config.ldapGroups")));
  form.fields.ldap_group_membership_attribute.el.after(pingRow);
  const toggleLdap = () => {
    const on = form.fields.auth_mode.input.value === "ldap_auth";
    form.el.querySelectorAll(".form-section").forEach((el) => (el.hidden = !on));
    ldapFields.forEach((el) => (el.hidden = !on));
    pingRow.hidden = !on;
    form.fields.self_registration.el.hidden = on;
  };
  form.fields.auth_mode.input.addEventListener("change", toggleLdap);
  form.fields.ldap_url.el.before(ldapHeading);
  toggleLdap();

  pingButton.addEventListener("click", async () => {
    const values = form.values();
    const body = {
      ldap_url: values.ldap_url,
      ldap_search_dn: values.ldap_search_dn,
      ldap_base_dn: values.ldap_base_dn,
      ldap_filter: values.ldap_filter,
      ldap_uid: values.ldap_uid,
      ldap_scope: Number(values.ldap_scope),
      ldap_connection_timeout: Number(values.ldap_timeout),
      ldap_verify_cert: values.ldap_verify_cert,
    };
    if (values.ldap_search_password) body.ldap_search_password = values.ldap_search_password;
    pingButton.disabled = true;
    mount(pingResult, loading());
    try {
      const result = await api.post("/ldap/ping", body);
      mount(pingResult, alertBox(result.success ? t("config.ldapOk") : t("config.ldapFailed", { message: result.message }), result.success ? "success" : "error"));
    } catch (error) {
      mount(pingResult, alertBox(error.message));
    } finally {
      pingButton.disabled = false;
    }
  });
  return form.el;
}

function systemForm(config, reload) {
  const quota = quotaField({ name: "storage_per_project", value: config.storage_per_project?.value ?? -1, label: t("config.storage_per_project") });
  const fields = [
    item(config, "project_creation_restriction", { type: "select", options: [{ value: "everyone", label: t("config.everyone") }, { value: "adminonly", label: t("config.adminOnly") }] }),
    { ...quota.spec, value: String(splitBytes(config.storage_per_project?.value ?? -1).amount) },
    item(config, "quota_per_project_enable", { type: "checkbox" }),
    item(config, "read_only", { type: "checkbox", hint: t("config.read_only.hint") }),
    item(config, "notification_enable", { type: "checkbox" }),
    item(config, "audit_log_forward_endpoint", { placeholder: "syslog.example.com:514", validate: (v) => (ENDPOINT.test(v) ? null : t("config.endpointRule")) }),
    item(config, "skip_audit_log_database", { type: "checkbox", validate: (v, values) => (v && !values.audit_log_forward_endpoint ? t("config.skipNeedsEndpoint") : null) }),
    item(config, "disabled_audit_log_event_types", { placeholder: "create_user,pull_artifact", validate: (v) => (eventTypesOk(v) ? null : t("config.eventTypesRule")) }),
  ];
  const types = {
    project_creation_restriction: "str", quota_per_project_enable: "bool", read_only: "bool", notification_enable: "bool",
    audit_log_forward_endpoint: "str", skip_audit_log_database: "bool", disabled_audit_log_event_types: "str",
  };
  return createForm({
    submitLabel: t("common.save"),
    fields,
    onSubmit: async (values) => {
      const body = changes(config, values, types);
      const storage = quota.toBytes(values.storage_per_project);
      if (storage !== config.storage_per_project?.value) body.storage_per_project = storage;
      await save(body, reload);
    },
  }).el;
}

export async function render(root, ctx) {
  ctx.setTitle(t("nav.configuration"));
  const body = h("div", { class: "grid two config-grid" });
  mount(root, pageHeader({ title: t("nav.configuration"), subtitle: t("config.subtitle") }), body);
  const reload = async () => {
    const config = await api.get("/configurations");
    if (!ctx.isCurrent()) return;
    mount(body, card({ title: t("config.authentication") }, authForm(config, reload)), card({ title: t("config.system") }, systemForm(config, reload)));
  };
  await reload();
}
