// Projects: the summary counts, a searchable, sortable list, "new project" and delete.

import * as api from "../api.js";
import { badge, button, deleteButton, modalForm, pageHeader, statCard, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { bytes, dateTime, number, roleName } from "../format.js";
import { t } from "../i18n.js";
import { quotaField } from "../quota.js";
import { canCreateProject, isAdmin } from "../session.js";
import { actionsColumn, dataTable } from "../table.js";

// Harbor's rule for project names (lower case, digits and single separators).
const PROJECT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export function checkProjectName(value) {
  if (value.length < 1 || value.length > 255) return t("validation.tooLong", { max: 255 });
  return PROJECT_NAME.test(value) ? null : t("project.nameRule");
}

async function statistics() {
  const stats = await api.get("/statistics").catch(() => null);
  if (!stats) return null;
  const cards = [
    statCard({ label: t("stats.privateProjects"), value: number(stats.private_project_count), iconName: "lock" }),
    statCard({ label: t("stats.publicProjects"), value: number(stats.public_project_count), iconName: "unlock" }),
    statCard({ label: t("stats.repositories"), value: number((stats.private_repo_count || 0) + (stats.public_repo_count || 0)), iconName: "repository" }),
  ];
  if (isAdmin()) cards.push(statCard({ label: t("stats.storage"), value: bytes(stats.total_storage_consumption), iconName: "server" }));
  return h("div", { class: "stats" }, cards);
}

export async function openCreateProject() {
  const quota = quotaField();
  const fields = [
    { name: "project_name", label: t("project.name"), required: true, validate: checkProjectName, hint: t("project.nameHint"), serverMatch: ["name", "exist"] },
    { name: "public", label: t("project.public"), type: "checkbox", value: false, hint: t("project.publicHint") },
  ];
  // Only administrators may set a quota (Harbor's rule); others get the system default.
  if (isAdmin()) fields.push(quota.spec);
  return modalForm({
    title: t("project.new"),
    submitLabel: t("common.create"),
    fields,
    onSubmit: async (values) => {
      const body = { project_name: values.project_name, metadata: { public: String(values.public) } };
      if (isAdmin()) body.storage_limit = quota.toBytes(values.storage_limit);
      await api.post("/projects", body);
      toast(t("project.created", { name: values.project_name }));
      return values.project_name;
    },
  });
}

export async function render(root, ctx) {
  ctx.setTitle(t("nav.projects"));
  const table = dataTable({
    label: t("nav.projects"),
    sort: "name",
    empty: t("project.none"),
    search: t("project.search"),
    load: ({ page, pageSize, sort, search }) => api.list("/projects", { page, page_size: pageSize, sort, q: api.fuzzy("name", search) }),
    columns: [
      { key: "name", label: t("project.name"), sort: "name", render: (p) => h("a", { href: `/harbor/projects/${p.project_id}/repositories`, class: "strong" }, p.name) },
      { key: "public", label: t("project.access"), render: (p) => (p.metadata?.public === "true" ? badge(t("project.publicBadge"), "info") : badge(t("project.privateBadge"))) },
      { key: "role", label: t("project.role"), render: (p) => (p.current_user_role_id ? roleName(p.current_user_role_id) : isAdmin() ? t("role.sysadmin") : "—") },
      { key: "repo_count", label: t("project.repositories"), className: "num", render: (p) => number(p.repo_count) },
      { key: "creation_time", label: t("common.created"), sort: "creation_time", render: (p) => dateTime(p.creation_time) },
      actionsColumn(
        (p) =>
          (isAdmin() || p.current_user_role_id === 1) &&
          deleteButton({
            title: t("project.delete", { name: p.name }),
            confirm: { title: t("project.deleteTitle"), message: t("project.deleteConfirm", { name: p.name }) },
            remove: () => api.del(`/projects/${p.project_id}`),
            done: t("project.deleted", { name: p.name }),
            after: () => table.reload(),
          }),
      ),
    ],
  });
  const actions = canCreateProject()
    ? [button({ label: t("project.new"), iconName: "plus", kind: "primary", onClick: async () => (await openCreateProject()) && table.reload() })]
    : [];
  mount(root, pageHeader({ title: t("nav.projects"), subtitle: t("project.subtitle"), actions }), h("div", { class: "stats-slot" }), table.el);
  const stats = await statistics();
  if (stats && ctx.isCurrent()) mount(root.querySelector(".stats-slot"), stats);
}
