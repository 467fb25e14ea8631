// A project's repositories: search, sort, page, open one, delete where the role allows.

import * as api from "../api.js";
import { button, deleteButton, modal } from "../components.js";
import { h, mount } from "../dom.js";
import { dateTime, number } from "../format.js";
import { t } from "../i18n.js";
import { actionsColumn, dataTable } from "../table.js";
import { pushCommands } from "./project-summary.js";

/** The repository name without "project/", as Harbor's portal URLs carry it. */
export function shortName(project, fullName) {
  return fullName.startsWith(`${project.name}/`) ? fullName.slice(project.name.length + 1) : fullName;
}

export function repositoryHref(project, fullName) {
  return `/harbor/projects/${project.project_id}/repositories/${encodeURIComponent(shortName(project, fullName))}/artifacts-tab`;
}

export async function render(root, { project, perms }) {
  const canDelete = perms.can("repository", "delete");
  const table = dataTable({
    label: t("projectTab.repositories"),
    sort: "name",
    empty: t("repo.none"),
    search: t("repo.search"),
    load: ({ page, pageSize, sort, search }) => api.list(`/projects/${encodeURIComponent(project.name)}/repositories`, { page, page_size: pageSize, sort, q: api.fuzzy("name", search) }),
    columns: [
      { key: "name", label: t("repo.name"), sort: "name", render: (r) => h("a", { href: repositoryHref(project, r.name), class: "strong" }, r.name) },
      { key: "artifact_count", label: t("repo.artifacts"), className: "num", render: (r) => number(r.artifact_count) },
      { key: "pull_count", label: t("repo.pulls"), sort: "pull_count", className: "num", render: (r) => number(r.pull_count) },
      { key: "update_time", label: t("repo.updated"), sort: "update_time", render: (r) => dateTime(r.update_time) },
      canDelete &&
        actionsColumn((r) =>
          deleteButton({
            title: t("repo.delete", { name: r.name }),
            confirm: { title: t("repo.deleteTitle"), message: t("repo.deleteConfirm", { name: r.name }) },
            remove: () => api.del(`/projects/${encodeURIComponent(project.name)}/repositories/${api.repoPath(project.name, r.name)}`),
            done: t("repo.deleted", { name: r.name }),
            after: () => table.reload(),
          }),
        ),
    ].filter(Boolean),
    toolbar: [perms.can("repository", "push") && button({ label: t("commands.title"), iconName: "copy", onClick: () => modal({ title: t("commands.title"), content: h("div", { class: "modal-body" }, pushCommands(project.name)) }) })],
  });
  mount(root, table.el);
}
