// A project's audit log (for those allowed to list it: project admins and system admins).

import { card } from "../components.js";
import { mount } from "../dom.js";
import { t } from "../i18n.js";
import { activityCard, auditTable } from "../activity.js";

export async function render(root, { project }) {
  const base = `/projects/${encodeURIComponent(project.name)}`;
  mount(root, activityCard(`${base}/logs`), card({ title: t("audit.entries") }, auditTable(`${base}/auditlog-exts`)));
}
