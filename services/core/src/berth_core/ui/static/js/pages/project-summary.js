// A project at a glance: repositories, members by role, quota usage and the push commands.

import * as api from "../api.js";
import { card, copyField, details, statCard } from "../components.js";
import { h, mount } from "../dom.js";
import { number, roleName } from "../format.js";
import { t } from "../i18n.js";
import { usageBar } from "../charts.js";
import { registryHost } from "../session.js";

/** The commands to push into a project, with copy buttons. */
export function pushCommands(projectName) {
  const host = registryHost();
  return h(
    "div",
    { class: "commands" },
    copyField(`podman login ${host}`, { label: t("commands.login") }),
    copyField(`podman tag SOURCE_IMAGE[:TAG] ${host}/${projectName}/REPOSITORY[:TAG]`, { label: t("commands.tag") }),
    copyField(`podman push ${host}/${projectName}/REPOSITORY[:TAG]`, { label: t("commands.push") }),
  );
}

export async function render(root, { project, perms }) {
  const summary = await api.get(`/projects/${project.project_id}/summary`);
  const quota = summary.quota || {};
  const roleCounts = [
    [1, summary.project_admin_count],
    [4, summary.maintainer_count],
    [2, summary.developer_count],
    [3, summary.guest_count],
    [5, summary.limited_guest_count],
  ].filter(([, count]) => count !== undefined);
  mount(
    root,
    h(
      "div",
      { class: "grid two" },
      card(
        { title: t("summary.overview") },
        h("div", { class: "stats compact" }, statCard({ label: t("project.repositories"), value: number(summary.repo_count), iconName: "repository" }), statCard({ label: t("summary.members"), value: number(roleCounts.reduce((sum, [, c]) => sum + (c || 0), 0)), iconName: "users" })),
        roleCounts.length > 0 && details(roleCounts.map(([role, count]) => [roleName(role), number(count)])),
      ),
      card({ title: t("quota.title") }, quota.hard ? usageBar(quota.used?.storage || 0, quota.hard.storage) : h("p", { class: "muted" }, t("quota.none"))),
    ),
    perms.can("repository", "push") && card({ title: t("commands.title") }, pushCommands(project.name)),
  );
}
