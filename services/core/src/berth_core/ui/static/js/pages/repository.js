// A repository's artifacts: digest, tags, platforms, size, push and pull time, the pull
// command, and delete where the role allows.

import * as api from "../api.js";
import { badge, button, card, copyField, deleteButton, modal, pageHeader } from "../components.js";
import { h, mount } from "../dom.js";
import { bytes, dateTime, shortDigest } from "../format.js";
import { t } from "../i18n.js";
import { registryHost } from "../session.js";
import { actionsColumn, dataTable } from "../table.js";
import { loadProject, projectBadges } from "./project.js";

/** "linux/amd64"-style names of an artifact's platforms (children of an index, or its own). */
export function platforms(artifact) {
  const fromChildren = (artifact.references || []).map((ref) => ref.platform).filter(Boolean);
  const list = fromChildren.length > 0 ? fromChildren : [artifact.extra_attrs || {}];
  return [...new Set(list.filter((p) => p.architecture).map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join("/")))];
}

export function pullCommand(repositoryName, artifact, tag = null) {
  const reference = tag ? `:${tag}` : `@${artifact.digest}`;
  return `podman pull ${registryHost()}/${repositoryName}${reference}`;
}

function tagChips(artifact) {
  const tags = artifact.tags || [];
  if (tags.length === 0) return h("span", { class: "muted" }, t("artifact.untagged"));
  const shown = tags.slice(0, 3).map((tag) => h("span", { class: "chip" }, tag.name));
  return h("span", { class: "chips" }, shown, tags.length > 3 && h("span", { class: "chip more" }, `+${tags.length - 3}`));
}

export function artifactBase(project, repoName) {
  return `/projects/${encodeURIComponent(project.name)}/repositories/${api.repoPath(project.name, repoName)}/artifacts`;
}

export async function render(root, ctx) {
  const { project, perms } = await loadProject(ctx.params.id);
  const short = ctx.params.repo;
  const fullName = `${project.name}/${short}`;
  const repo = await api.get(`/projects/${encodeURIComponent(project.name)}/repositories/${api.repoPath(project.name, fullName)}`);
  ctx.setTitle(fullName);
  const base = artifactBase(project, fullName);
  const pageHref = `/harbor/projects/${project.project_id}/repositories/${encodeURIComponent(short)}/artifacts-tab`;
  const canDelete = perms.can("artifact", "delete");

  const table = dataTable({
    label: t("artifact.list"),
    sort: "-push_time",
    empty: t("artifact.none"),
    search: t("artifact.searchTag"),
    load: ({ page, pageSize, sort, search }) => api.list(base, { page, page_size: pageSize, sort, with_tag: "true", with_accessory: "true", q: api.fuzzy("tags", search) }),
    columns: [
      { key: "digest", label: t("artifact.digest"), sort: "digest", render: (a) => h("a", { href: `${pageHref}/artifacts/${a.digest}`, class: "mono strong", title: a.digest }, shortDigest(a.digest)) },
      { key: "tags", label: t("artifact.tags"), render: tagChips },
      { key: "type", label: t("artifact.type"), render: (a) => h("span", null, badge(a.type || "—"), (a.references || []).length > 0 && h("span", { class: "muted small" }, ` ${t("artifact.index")}`)) },
      { key: "platform", label: t("artifact.platforms"), render: (a) => platforms(a).join(", ") || "—" },
      { key: "size", label: t("artifact.size"), sort: "size", className: "num", render: (a) => bytes(a.size) },
      { key: "accessories", label: t("artifact.referrers"), className: "num", render: (a) => String((a.accessories || []).length) },
      { key: "push_time", label: t("artifact.pushed"), sort: "push_time", render: (a) => dateTime(a.push_time) },
      { key: "pull_time", label: t("artifact.pulled"), sort: "pull_time", render: (a) => dateTime(a.pull_time) },
      actionsColumn((a) =>
        h(
          "span",
          { class: "row-actions" },
          button({ kind: "ghost", small: true, iconName: "copy", title: t("artifact.pullCommand"), onClick: () => modal({ title: t("artifact.pullCommand"), content: h("div", { class: "modal-body" }, copyField(pullCommand(fullName, a, a.tags?.[0]?.name))) }) }),
          canDelete &&
            deleteButton({
              title: t("artifact.delete"),
              confirm: { title: t("artifact.deleteTitle"), message: t("artifact.deleteConfirm", { digest: shortDigest(a.digest) }) },
              remove: () => api.del(`${base}/${a.digest}`),
              done: t("artifact.deleted"),
              after: () => table.reload(),
            }),
        ),
      ),
    ],
  });

  mount(
    root,
    pageHeader({
      title: fullName,
      crumbs: [{ label: t("nav.projects"), href: "/harbor/projects" }, { label: project.name, href: `/harbor/projects/${project.project_id}/repositories` }, { label: short }],
      actions: [projectBadges(project)],
    }),
    card({ className: "repo-info" }, copyField(`podman pull ${registryHost()}/${fullName}:TAG`, { label: t("commands.pull") }), repo.description && h("p", { class: "repo-description" }, repo.description)),
    card({ title: t("artifact.list") }, table.el),
  );
}
