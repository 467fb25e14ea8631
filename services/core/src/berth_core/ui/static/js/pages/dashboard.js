// The dashboard: counts, each project's storage quota as a usage bar, and push/pull activity.

import * as api from "../api.js";
import { card, pageHeader, statCard } from "../components.js";
import { h, mount } from "../dom.js";
import { bytes, number } from "../format.js";
import { t } from "../i18n.js";
import { usageBar } from "../charts.js";
import { activityCard } from "../activity.js";
import { isAdmin } from "../session.js";
import { dataTable, localSource } from "../table.js";

const MEMBER_PROJECTS_SHOWN = 50;

function counts(stats) {
  // Harbor fills the total_* counts for administrators only; others see what they may read.
  const projects = isAdmin() ? stats.total_project_count : (stats.private_project_count || 0) + (stats.public_project_count || 0);
  const repos = isAdmin() ? stats.total_repo_count : (stats.private_repo_count || 0) + (stats.public_repo_count || 0);
  return h(
    "div",
    { class: "stats" },
    statCard({ label: t("stats.projects"), value: number(projects), iconName: "projects", hint: t("stats.publicPrivate", { public: number(stats.public_project_count), private: number(stats.private_project_count) }) }),
    statCard({ label: t("stats.repositories"), value: number(repos), iconName: "repository" }),
    isAdmin() && statCard({ label: t("stats.storage"), value: bytes(stats.total_storage_consumption), iconName: "server" }),
  );
}

const toRow = (quota) => ({ projectId: quota.ref?.id, name: quota.ref?.name || "", used: quota.used?.storage || 0, hard: quota.hard?.storage ?? -1 });

// Administrators read every quota in one sorted list; members read their projects' quotas.
async function memberQuotas() {
  const projects = (await api.list("/projects", { page: 1, page_size: MEMBER_PROJECTS_SHOWN, sort: "name" })).items;
  const quotas = await Promise.all(projects.map((p) => api.get("/quotas", { reference: "project", reference_id: p.project_id }).then((list) => list?.[0]).catch(() => null)));
  return quotas.filter(Boolean).map(toRow);
}

async function adminQuotas({ page, pageSize, sort }) {
  const { items, total } = await api.list("/quotas", { reference: "project", page, page_size: pageSize, sort: sort.replace("used", "used.storage") });
  return { items: items.map(toRow), total };
}

function quotaTable() {
  return dataTable({
    label: t("quota.perProject"),
    sort: "-used",
    pageSize: 10,
    empty: t("quota.noProjects"),
    load: isAdmin() ? adminQuotas : localSource(memberQuotas),
    columns: [
      { key: "name", label: t("project.name"), render: (q) => h("a", { href: `/harbor/projects/${q.projectId}/summary`, class: "strong" }, q.name) },
      { key: "usage", label: t("quota.usage"), className: "wide", render: (q) => usageBar(q.used, q.hard) },
      { key: "used", label: t("quota.used"), sort: "used", className: "num", render: (q) => bytes(q.used) },
    ],
  });
}

export async function render(root, ctx) {
  ctx.setTitle(t("nav.dashboard"));
  const statsSlot = h("div", { class: "stats-slot" });
  mount(
    root,
    pageHeader({ title: t("nav.dashboard"), subtitle: t("dashboard.subtitle") }),
    statsSlot,
    h("div", { class: "grid two dashboard-grid" }, card({ title: t("quota.perProject") }, quotaTable().el), activityCard("/audit-logs", isAdmin() ? null : t("activity.scopeHint"))),
  );
  const stats = await api.get("/statistics").catch(() => null);
  if (stats && ctx.isCurrent()) mount(statsSlot, counts(stats));
}
