// A project's audit log (for those allowed to list it: project admins and system admins).

import { mount } from "../dom.js";
import { activityCard, auditTable } from "../activity.js";

export async function render(root, { project }) {
  const base = `/projects/${encodeURIComponent(project.name)}`;
  mount(root, activityCard(`${base}/logs`), auditTable(`${base}/auditlog-exts`));
}
