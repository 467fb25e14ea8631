// One artifact: details, pull commands, tags (add and delete where allowed), the platforms of
// an index, its referrers (signatures, SBOMs, other accessories) and annotations.

import * as api from "../api.js";
import { button, card, copyField, deleteButton, details, modalForm, pageHeader, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { bytes, dateTime, shortDigest } from "../format.js";
import { t } from "../i18n.js";
import { actionsColumn, dataTable, localSource } from "../table.js";
import { loadProject, projectBadges } from "./project.js";
import { artifactBase, platforms, pullCommand } from "./repository.js";

// Docker's tag grammar: a word character, then up to 127 word characters, dots or dashes.
const TAG = /^[\w][\w.-]{0,127}$/;

function tagsCard(base, artifact, perms, fullName) {
  const canDelete = perms.can("tag", "delete");
  const table = dataTable({
    label: t("artifact.tags"),
    sort: "name",
    pageSize: 10,
    empty: t("artifact.noTags"),
    load: ({ page, pageSize, sort }) => api.list(`${base}/${artifact.digest}/tags`, { page, page_size: pageSize, sort }),
    columns: [
      { key: "name", label: t("tag.name"), sort: "name", render: (tag) => h("span", { class: "chip" }, tag.name) },
      { key: "command", label: t("artifact.pullCommand"), render: (tag) => copyField(pullCommand(fullName, artifact, tag.name)) },
      { key: "push_time", label: t("artifact.pushed"), sort: "push_time", render: (tag) => dateTime(tag.push_time) },
      { key: "pull_time", label: t("artifact.pulled"), sort: "pull_time", render: (tag) => dateTime(tag.pull_time) },
      canDelete &&
        actionsColumn((tag) =>
          deleteButton({
            title: t("tag.delete", { name: tag.name }),
            confirm: { title: t("tag.deleteTitle"), message: t("tag.deleteConfirm", { name: tag.name }) },
            remove: () => api.del(`${base}/${artifact.digest}/tags/${encodeURIComponent(tag.name)}`),
            done: t("tag.deleted", { name: tag.name }),
            after: () => table.reload(),
          }),
        ),
    ].filter(Boolean),
  });
  const addTag = async () => {
    const created = await modalForm({
      title: t("tag.add"),
      submitLabel: t("common.create"),
      fields: [{ name: "name", label: t("tag.name"), required: true, validate: (v) => (TAG.test(v) ? null : t("tag.rule")), serverMatch: ["tag", "name", "exist"] }],
      onSubmit: async (values) => {
        await api.post(`${base}/${artifact.digest}/tags`, { name: values.name });
        toast(t("tag.created", { name: values.name }));
        return true;
      },
    });
    if (created) table.reload();
  };
  return card({ title: t("artifact.tags"), actions: [perms.can("tag", "create") && button({ label: t("tag.add"), iconName: "plus", small: true, onClick: addTag })].filter(Boolean) }, table.el);
}

function childrenCard(artifact, pageHref) {
  const rows = (artifact.references || []).map((ref) => ({ ...ref, platformName: platforms({ references: [ref] }).join(""), osVersion: ref.platform?.["os.version"] || "" }));
  if (rows.length === 0) return null;
  const table = dataTable({
    label: t("artifact.architectures"),
    sort: "platformName",
    pageSize: 10,
    load: localSource(() => rows),
    columns: [
      { key: "platformName", label: t("artifact.platform"), sort: "platformName", render: (ref) => ref.platformName || "—" },
      { key: "child_digest", label: t("artifact.digest"), sort: "child_digest", render: (ref) => h("a", { href: `${pageHref}/artifacts/${ref.child_digest}`, class: "mono", title: ref.child_digest }, shortDigest(ref.child_digest)) },
      { key: "osVersion", label: t("artifact.osVersion"), sort: "osVersion", render: (ref) => ref.osVersion || "—" },
    ],
  });
  return card({ title: t("artifact.architectures") }, table.el);
}

function referrersCard(base, artifact, pageHref) {
  const table = dataTable({
    label: t("artifact.referrers"),
    pageSize: 10,
    empty: t("artifact.noReferrers"),
    load: ({ page, pageSize, sort }) => api.list(`${base}/${artifact.digest}/accessories`, { page, page_size: pageSize, sort }),
    columns: [
      { key: "digest", label: t("artifact.digest"), sort: "digest", render: (acc) => h("a", { href: `${pageHref}/artifacts/${acc.digest}`, class: "mono", title: acc.digest }, shortDigest(acc.digest)) },
      { key: "type", label: t("artifact.type"), sort: "type", render: (acc) => acc.type || "—" },
      { key: "size", label: t("artifact.size"), sort: "size", className: "num", render: (acc) => bytes(acc.size) },
      { key: "creation_time", label: t("common.created"), sort: "creation_time", render: (acc) => dateTime(acc.creation_time) },
    ],
  });
  return card({ title: t("artifact.referrers") }, table.el);
}

export async function render(root, ctx) {
  const { project, perms } = await loadProject(ctx.params.id);
  const short = ctx.params.repo;
  const fullName = `${project.name}/${short}`;
  const base = artifactBase(project, fullName);
  const artifact = await api.get(`${base}/${ctx.params.digest}`, { with_tag: "true", with_accessory: "true" });
  const repoHref = `/harbor/projects/${project.project_id}/repositories/${encodeURIComponent(short)}/artifacts-tab`;
  ctx.setTitle(`${fullName}@${shortDigest(artifact.digest)}`);
  const annotations = Object.entries(artifact.annotations || {});
  mount(
    root,
    pageHeader({
      title: shortDigest(artifact.digest),
      subtitle: fullName,
      crumbs: [
        { label: t("nav.projects"), href: "/harbor/projects" },
        { label: project.name, href: `/harbor/projects/${project.project_id}/repositories` },
        { label: short, href: repoHref },
        { label: shortDigest(artifact.digest) },
      ],
      actions: [projectBadges(project)],
    }),
    h(
      "div",
      { class: "grid two" },
      card(
        { title: t("artifact.details") },
        details([
          [t("artifact.digest"), h("span", { class: "mono break" }, artifact.digest)],
          [t("artifact.type"), artifact.type],
          [t("artifact.mediaType"), h("span", { class: "mono break" }, artifact.manifest_media_type || artifact.media_type)],
          artifact.artifact_type && [t("artifact.artifactType"), h("span", { class: "mono break" }, artifact.artifact_type)],
          [t("artifact.size"), bytes(artifact.size)],
          [t("artifact.platforms"), platforms(artifact).join(", ") || "—"],
          [t("artifact.pushed"), dateTime(artifact.push_time)],
          [t("artifact.pulled"), dateTime(artifact.pull_time)],
        ]),
      ),
      card(
        { title: t("artifact.pullCommand") },
        copyField(pullCommand(fullName, artifact), { label: t("artifact.byDigest") }),
        (artifact.tags || []).slice(0, 3).map((tag) => copyField(pullCommand(fullName, artifact, tag.name), { label: t("artifact.byTag", { tag: tag.name }) })),
      ),
    ),
    tagsCard(base, artifact, perms, fullName),
    childrenCard(artifact, repoHref),
    referrersCard(base, artifact, repoHref),
    annotations.length > 0 && card({ title: t("artifact.annotations") }, details(annotations.map(([key, value]) => [h("span", { class: "mono" }, key), h("span", { class: "break" }, value)]))),
  );
}
