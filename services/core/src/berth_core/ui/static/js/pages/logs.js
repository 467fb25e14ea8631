// Administration: the audit log with its activity chart and filters.

import { card, pageHeader } from "../components.js";
import { mount } from "../dom.js";
import { t } from "../i18n.js";
import { activityCard, auditTable } from "../activity.js";

export async function render(root, ctx) {
  ctx.setTitle(t("audit.title"));
  mount(root, pageHeader({ title: t("audit.title"), subtitle: t("audit.subtitle") }), activityCard("/audit-logs"), card({ title: t("audit.entries") }, auditTable("/auditlog-exts")));
}
