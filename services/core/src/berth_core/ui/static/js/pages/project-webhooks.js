// A project's webhooks: policies with their last delivery, create, enable/disable, delete.
// Shows a "not available" notice while the server has no webhook API (it answers 404).

import * as api from "../api.js";
import { STAY_OPEN, badge, button, deleteButton, modalForm, toast, unavailable } from "../components.js";
import { h, mount } from "../dom.js";
import { dateTime } from "../format.js";
import { t } from "../i18n.js";
import { actionsColumn, dataTable } from "../table.js";

// Harbor's user-facing webhook events, used when the server does not list them.
const DEFAULT_EVENTS = ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT", "QUOTA_EXCEED", "QUOTA_WARNING", "SCANNING_COMPLETED", "SCANNING_FAILED", "SCANNING_STOPPED", "REPLICATION", "TAG_RETENTION"];

/** An event type in words, or as the server names it when this UI does not know it yet. */
function eventName(type) {
  const key = `event.${type}`;
  return t(key) === key ? type : t(key);
}

function statusBadge(status) {
  const kind = { Success: "success", Error: "danger", Stopped: "neutral", Running: "info", Pending: "info" }[status] || "neutral";
  return badge(status || "—", kind);
}

/** The newest execution of a policy, filled into ``cell`` when it arrives. */
function lastDelivery(base, policy) {
  const cell = h("span", { class: "muted" }, "…");
  api
    .list(`${base}/${policy.id}/executions`, { page: 1, page_size: 1, sort: "-id" })
    .then(({ items }) => mount(cell, items.length === 0 ? h("span", { class: "muted" }, t("webhook.never")) : h("span", { class: "stack" }, statusBadge(items[0].status), h("span", { class: "muted small" }, dateTime(items[0].start_time)))))
    .catch(() => mount(cell, "—"));
  return cell;
}

async function openPolicyForm(base, project, existing = null) {
  const supported = await api.get(`/projects/${project.project_id}/webhook/events`).catch(() => null);
  const events = supported?.event_type?.length ? supported.event_type : DEFAULT_EVENTS;
  const chosen = new Set(existing?.event_types || ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"]);
  const target = existing?.targets?.[0] || {};
  const boxes = events.map((event) => h("input", { type: "checkbox", value: event, checked: chosen.has(event) }));
  const eventsError = h("p", { class: "field-error", role: "alert", hidden: true });
  const eventsField = h("fieldset", { class: "permissions" }, h("legend", null, t("webhook.events")), h("div", { class: "event-grid" }, boxes.map((box) => h("label", { class: "check" }, box, eventName(box.value)))), eventsError);
  return modalForm({
    title: existing ? t("webhook.edit") : t("webhook.new"),
    submitLabel: existing ? t("common.save") : t("common.create"),
    size: "large",
    extra: eventsField,
    fields: [
      { name: "name", label: t("webhook.name"), required: true, value: existing?.name || "", validate: (v) => (v.length > 256 ? t("validation.tooLong", { max: 256 }) : null), serverMatch: ["name", "exist"] },
      { name: "description", label: t("common.description"), type: "textarea", value: existing?.description || "" },
      { name: "type", label: t("webhook.notifyType"), type: "select", value: target.type || "http", options: [{ value: "http", label: "HTTP" }, { value: "slack", label: "Slack" }] },
      { name: "address", label: t("webhook.endpoint"), required: true, value: target.address || "", placeholder: "https://hooks.example.com/berth", validate: (v) => (/^https?:\/\/\S+$/.test(v) ? null : t("validation.url")), serverMatch: ["address", "endpoint", "url"] },
      // Write-only on the server: never read back, so an edit leaves it empty to keep it.
      { name: "auth_header", label: t("webhook.authHeader"), type: "password", trim: false, autocomplete: "off", hint: existing ? t("webhook.keepHint") : t("webhook.authHeaderHint"), validate: (v) => (v.length > 4096 ? t("validation.tooLong", { max: 4096 }) : null) },
      { name: "secret", label: t("webhook.secret"), type: "password", trim: false, autocomplete: "new-password", hint: existing ? t("webhook.keepHint") : t("webhook.secretHint"), validate: (v) => (v.length >= 16 && v.length <= 256 ? null : t("webhook.secretRule")), serverMatch: ["secret"] },
      { name: "payload_format", label: t("webhook.payloadFormat"), type: "select", value: target.payload_format || "Default", options: [{ value: "Default", label: "Default" }, { value: "CloudEvents", label: "CloudEvents" }] },
      { name: "skip_cert_verify", label: t("webhook.skipCertVerify"), type: "checkbox", value: Boolean(target.skip_cert_verify) },
      { name: "enabled", label: t("webhook.enabled"), type: "checkbox", value: existing ? existing.enabled : true },
    ],
    onSubmit: async (values) => {
      const eventTypes = boxes.filter((b) => b.checked).map((b) => b.value);
      eventsError.hidden = eventTypes.length > 0;
      eventsError.textContent = eventTypes.length > 0 ? "" : t("webhook.eventRequired");
      if (eventTypes.length === 0) return STAY_OPEN;
      const targetBody = { type: values.type, address: values.address, skip_cert_verify: values.skip_cert_verify, payload_format: values.payload_format };
      if (values.auth_header) targetBody.auth_header = values.auth_header;
      const body = { name: values.name, description: values.description, enabled: values.enabled, event_types: eventTypes, targets: [targetBody] };
      if (values.secret) body.secret = values.secret;
      if (existing) await api.put(`${base}/${existing.id}`, { ...body, id: existing.id });
      else await api.post(base, body);
      toast(existing ? t("webhook.saved", { name: values.name }) : t("webhook.created", { name: values.name }));
      return true;
    },
  });
}

export async function render(root, { project, perms }) {
  const base = `/projects/${project.project_id}/webhook/policies`;
  try {
    await api.list(base, { page: 1, page_size: 1 });
  } catch (error) {
    if (error.status === 404) {
      mount(root, unavailable());
      return;
    }
    throw error;
  }
  const canUpdate = perms.can("notification-policy", "update");
  const canDelete = perms.can("notification-policy", "delete");
  const table = dataTable({
    label: t("projectTab.webhooks"),
    sort: "name",
    empty: t("webhook.none"),
    load: ({ page, pageSize, sort }) => api.list(base, { page, page_size: pageSize, sort }),
    columns: [
      { key: "name", label: t("webhook.name"), sort: "name", render: (p) => h("span", { class: "strong" }, p.name) },
      { key: "enabled", label: t("common.status"), render: (p) => (p.enabled ? badge(t("webhook.on"), "success") : badge(t("webhook.off"))) },
      { key: "address", label: t("webhook.endpoint"), render: (p) => h("span", { class: "mono break" }, p.targets?.[0]?.address || "—") },
      { key: "events", label: t("webhook.events"), render: (p) => h("span", { class: "muted small" }, (p.event_types || []).map(eventName).join(", ")) },
      { key: "last", label: t("webhook.lastDelivery"), render: (p) => lastDelivery(base, p) },
      { key: "creation_time", label: t("common.created"), sort: "creation_time", render: (p) => dateTime(p.creation_time) },
      (canUpdate || canDelete) &&
        actionsColumn((p) =>
          h(
            "span",
            { class: "row-actions" },
            canUpdate && button({ small: true, kind: "ghost", label: t("common.edit"), onClick: async () => (await openPolicyForm(base, project, p)) && table.reload() }),
            canDelete &&
              deleteButton({
                title: t("webhook.delete", { name: p.name }),
                confirm: { title: t("webhook.deleteTitle"), message: t("webhook.deleteConfirm", { name: p.name }) },
                remove: () => api.del(`${base}/${p.id}`),
                done: t("webhook.deleted", { name: p.name }),
                after: () => table.reload(),
              }),
          ),
        ),
    ].filter(Boolean),
    toolbar: perms.can("notification-policy", "create") && button({ label: t("webhook.new"), iconName: "plus", kind: "primary", onClick: async () => (await openPolicyForm(base, project)) && table.reload() }),
  });
  mount(root, table.el);
}
