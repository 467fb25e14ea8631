// One project: its header and tabs. Each tab is its own module (project-*.js) and is offered
// only when the user's permissions in this project allow listing what it shows.

import * as api from "../api.js";
import { badge, pageHeader, tabs } from "../components.js";
import { h, mount } from "../dom.js";
import { roleName } from "../format.js";
import { t } from "../i18n.js";
import { isAdmin, projectPermissions } from "../session.js";

const TABS = [
  { id: "summary", label: "projectTab.summary", load: () => import("./project-summary.js") },
  { id: "repositories", label: "projectTab.repositories", load: () => import("./project-repositories.js") },
  { id: "members", label: "projectTab.members", perm: ["member", "list"], load: () => import("./project-members.js") },
  { id: "robot-account", label: "projectTab.robots", perm: ["robot", "list"], load: () => import("./project-robots.js") },
  { id: "webhook", label: "projectTab.webhooks", perm: ["notification-policy", "list"], load: () => import("./project-webhooks.js") },
  { id: "logs", label: "projectTab.logs", perm: ["log", "list"], load: () => import("./project-logs.js") },
  { id: "configs", label: "projectTab.configs", load: () => import("./project-configs.js") },
];

/** Load a project by id with the user's permissions in it (shared by the repository pages). */
export async function loadProject(id) {
  const project = await api.get(`/projects/${encodeURIComponent(id)}`);
  const perms = await projectPermissions(project.project_id);
  return { project, perms };
}

export function projectBadges(project) {
  return h(
    "span",
    { class: "title-badges" },
    project.metadata?.public === "true" ? badge(t("project.publicBadge"), "info") : badge(t("project.privateBadge")),
    project.current_user_role_id ? badge(roleName(project.current_user_role_id), "role") : isAdmin() ? badge(t("role.sysadmin"), "role") : null,
  );
}

export async function render(root, ctx) {
  const { project, perms } = await loadProject(ctx.params.id);
  const visible = TABS.filter((tab) => !tab.perm || perms.can(...tab.perm));
  const active = visible.find((tab) => tab.id === (ctx.params.tab || "repositories"));
  ctx.setTitle(project.name);
  const body = h("div", { class: "tab-body" });
  mount(
    root,
    pageHeader({ title: project.name, crumbs: [{ label: t("nav.projects"), href: "/harbor/projects" }, { label: project.name }], actions: [projectBadges(project)] }),
    tabs(visible.map((tab) => ({ label: t(tab.label), href: `/harbor/projects/${project.project_id}/${tab.id}`, active: tab === active }))),
    body,
  );
  if (!active) {
    mount(body, h("div", { class: "unavailable" }, h("p", null, t("notFound.text"))));
    return;
  }
  const module = await active.load();
  if (ctx.isCurrent()) await module.render(body, { ...ctx, project, perms });
}
