// A project's settings: the public flag (project admins) and the storage quota (system admins).

import * as api from "../api.js";
import { card, createForm, details, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { bytes } from "../format.js";
import { t } from "../i18n.js";
import { usageBar } from "../charts.js";
import { quotaField } from "../quota.js";
import { refresh } from "../router.js";
import { forgetPermissions, isAdmin } from "../session.js";

function publicForm(project, canUpdate, onSaved) {
  const isPublic = project.metadata?.public === "true";
  if (!canUpdate) return details([[t("project.access"), isPublic ? t("project.publicBadge") : t("project.privateBadge")]]);
  return createForm({
    submitLabel: t("common.save"),
    fields: [{ name: "public", label: t("project.public"), type: "checkbox", value: isPublic, hint: t("project.publicHint") }],
    onSubmit: async (values) => {
      await api.put(`/projects/${project.project_id}`, { metadata: { public: String(values.public) } });
      forgetPermissions();
      toast(t("project.saved"));
      onSaved();
    },
  }).el;
}

function quotaForm(quota, onSaved) {
  const hard = quota.hard?.storage ?? -1;
  const field = quotaField({ value: hard });
  return createForm({
    submitLabel: t("common.save"),
    fields: [field.spec],
    onSubmit: async (values) => {
      await api.put(`/quotas/${quota.id}`, { hard: { storage: field.toBytes(values.storage_limit) } });
      toast(t("quota.saved"));
      onSaved();
    },
  }).el;
}

export async function render(root, { project, perms }) {
  const quota = (await api.get("/quotas", { reference: "project", reference_id: project.project_id }).catch(() => []))?.[0];
  // After a save, draw the whole page again so the header's public/private badge follows.
  const onSaved = () => refresh();
  mount(
    root,
    h(
      "div",
      { class: "grid two" },
      card({ title: t("project.accessLevel") }, publicForm(project, perms.can("metadata", "update"), onSaved)),
      card(
        { title: t("quota.title") },
        quota ? usageBar(quota.used?.storage || 0, quota.hard?.storage) : h("p", { class: "muted" }, t("quota.none")),
        quota && isAdmin() ? quotaForm(quota, onSaved) : quota && details([[t("quota.limit"), bytes(quota.hard?.storage)]]),
      ),
    ),
  );
}
