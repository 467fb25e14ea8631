// Robot accounts, shared by the project tab and the administrators' page: the create dialog
// with its permission checkboxes, the secret shown exactly once, and the row actions.

import * as api from "./api.js";
import { STAY_OPEN, alertBox, badge, button, confirmDialog, copyField, deleteButton, modal, modalForm, toast } from "./components.js";
import { h } from "./dom.js";
import { dateTime } from "./format.js";
import { t } from "./i18n.js";

const ROBOT_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

// What a robot is usually given inside a project (a subset of Harbor's project permissions).
export const PROJECT_ACCESS = [
  { resource: "repository", actions: ["pull", "push", "delete", "list"] },
  { resource: "artifact", actions: ["read", "list", "delete"] },
  { resource: "tag", actions: ["list", "create", "delete"] },
  { resource: "accessory", actions: ["list"] },
];
// System-wide grants offered for system robots.
export const SYSTEM_ACCESS = [
  { resource: "project", actions: ["list", "create"] },
  { resource: "catalog", actions: ["read"] },
  { resource: "audit-log", actions: ["list"] },
  { resource: "user", actions: ["list", "read"] },
];
const DEFAULT_PROJECT_ACCESS = ["repository:pull", "repository:push"];

/** A fieldset of checkboxes, one per resource:action. Returns {el, selected(), setError()}. */
function permissionMatrix(title, groups, preset = []) {
  const boxes = [];
  const error = h("p", { class: "field-error", role: "alert", hidden: true });
  const el = h(
    "fieldset",
    { class: "permissions" },
    h("legend", null, title),
    h(
      "div",
      { class: "permission-grid" },
      groups.map((group) =>
        h(
          "div",
          { class: "permission-row" },
          h("span", { class: "permission-resource" }, t(`resource.${group.resource}`)),
          h(
            "span",
            { class: "permission-actions" },
            group.actions.map((action) => {
              const box = h("input", { type: "checkbox", value: `${group.resource}:${action}`, checked: preset.includes(`${group.resource}:${action}`) });
              boxes.push(box);
              return h("label", { class: "check" }, box, t(`action.${action}`));
            }),
          ),
        ),
      ),
    ),
    error,
  );
  return {
    el,
    selected: () => boxes.filter((b) => b.checked).map((b) => {
      const [resource, action] = b.value.split(":");
      return { resource, action, effect: "allow" };
    }),
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
    },
  };
}

function checkDuration(value) {
  const days = Number(value);
  if (!Number.isInteger(days) || (days !== -1 && (days < 1 || days > 36500))) return t("robot.durationRule");
  return null;
}

/** Show a new secret once, with copy buttons and the warning that it cannot be shown again. */
export function showSecret(name, secret) {
  return modal({
    title: t("robot.secretTitle"),
    content: (close) =>
      h(
        "div",
        null,
        h("div", { class: "modal-body" }, alertBox(t("robot.secretOnce"), "info"), copyField(name, { label: t("robot.name") }), copyField(secret, { label: t("robot.secret") })),
        h("div", { class: "modal-footer" }, button({ label: t("common.done"), kind: "primary", onClick: () => close(true) })),
      ),
  }).result;
}

/**
 * The "new robot" dialog. project: {name} for a project robot, null for a system robot.
 * Resolves true when a robot was created.
 */
export async function createRobot(project) {
  const projectMatrix = permissionMatrix(t("robot.projectPermissions"), PROJECT_ACCESS, DEFAULT_PROJECT_ACCESS);
  const systemMatrix = project ? null : permissionMatrix(t("robot.systemPermissions"), SYSTEM_ACCESS);
  const fields = [
    { name: "name", label: t("robot.name"), required: true, hint: project ? t("robot.nameHintProject", { project: project.name }) : t("robot.nameHint"), validate: (v) => (v.length <= 128 && ROBOT_NAME.test(v) ? null : t("robot.nameRule")), serverMatch: ["name", "exist"] },
    { name: "description", label: t("common.description"), type: "textarea", validate: (v) => (v.length > 1024 ? t("validation.tooLong", { max: 1024 }) : null) },
    { name: "duration", label: t("robot.duration"), type: "number", value: "30", required: true, hint: t("robot.durationHint"), validate: checkDuration, serverMatch: ["duration"] },
  ];
  if (!project) {
    fields.push({ name: "namespaces", label: t("robot.projects"), value: "*", required: true, hint: t("robot.projectsHint"), serverMatch: ["project"] });
  }
  const result = await modalForm({
    title: project ? t("robot.newProject") : t("robot.newSystem"),
    submitLabel: t("common.create"),
    size: "large",
    fields,
    extra: h("div", null, projectMatrix.el, systemMatrix && systemMatrix.el),
    onSubmit: async (values) => {
      const projectAccess = projectMatrix.selected();
      const systemAccess = systemMatrix ? systemMatrix.selected() : [];
      projectMatrix.setError(null);
      if (projectAccess.length === 0 && systemAccess.length === 0) {
        projectMatrix.setError(t("robot.permissionRequired"));
        return STAY_OPEN;
      }
      const namespaces = project ? [project.name] : values.namespaces.split(",").map((n) => n.trim()).filter(Boolean);
      const permissions = projectAccess.length > 0 ? namespaces.map((namespace) => ({ kind: "project", namespace, access: projectAccess })) : [];
      if (systemAccess.length > 0) permissions.push({ kind: "system", namespace: "/", access: systemAccess });
      const created = await api.post("/robots", { name: values.name, description: values.description, duration: Number(values.duration), level: project ? "project" : "system", disable: false, permissions });
      await showSecret(created.name, created.secret);
      toast(t("robot.created", { name: created.name }));
      return true;
    },
  });
  return Boolean(result);
}

export function expiry(robot) {
  if (robot.expires_at === -1 || robot.duration === -1) return t("robot.never");
  const when = new Date(robot.expires_at * 1000);
  return when < new Date() ? badge(t("robot.expired"), "danger") : dateTime(when.toISOString());
}

/** Enable/disable, refresh secret and delete buttons for one robot row. */
export function robotActions(robot, { canUpdate, canDelete, reload }) {
  const toggle = async () => {
    try {
      await api.put(`/robots/${robot.id}`, { ...robot, disable: !robot.disable });
      toast(robot.disable ? t("robot.enabled", { name: robot.name }) : t("robot.disabled", { name: robot.name }));
      reload();
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const refresh = async () => {
    if (!(await confirmDialog({ title: t("robot.refreshTitle"), message: t("robot.refreshConfirm", { name: robot.name }), confirmLabel: t("robot.refresh"), danger: false }))) return;
    try {
      const { secret } = await api.patch(`/robots/${robot.id}`, {});
      await showSecret(robot.name, secret);
    } catch (error) {
      toast(error.message, "error");
    }
  };
  return h(
    "span",
    { class: "row-actions" },
    canUpdate && button({ small: true, kind: "ghost", label: robot.disable ? t("robot.enable") : t("robot.disable"), onClick: toggle }),
    canUpdate && button({ small: true, kind: "ghost", iconName: "refresh", title: t("robot.refresh"), onClick: refresh }),
    canDelete &&
      deleteButton({
        title: t("robot.delete", { name: robot.name }),
        confirm: { title: t("robot.deleteTitle"), message: t("robot.deleteConfirm", { name: robot.name }) },
        remove: () => api.del(`/robots/${robot.id}`),
        done: t("robot.deleted", { name: robot.name }),
        after: reload,
      }),
  );
}

/** Table columns common to both robot lists. */
export function robotColumns() {
  return [
    { key: "name", label: t("robot.name"), sort: "name", render: (r) => h("span", { class: "mono strong" }, r.name) },
    { key: "disable", label: t("common.status"), render: (r) => (r.disable ? badge(t("robot.statusDisabled")) : badge(t("robot.statusEnabled"), "success")) },
    { key: "permissions", label: t("robot.permissions"), render: (r) => h("span", { class: "muted small" }, (r.permissions || []).map((p) => `${p.namespace === "/" ? t("robot.system") : p.namespace}: ${p.access.length}`).join(" · ")) },
    { key: "expires_at", label: t("robot.expires"), sort: "expires_at", render: expiry },
    { key: "description", label: t("common.description"), render: (r) => r.description || "—" },
    { key: "creation_time", label: t("common.created"), sort: "creation_time", render: (r) => dateTime(r.creation_time) },
  ];
}
