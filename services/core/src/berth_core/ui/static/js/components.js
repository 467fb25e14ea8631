// Building blocks shared by the pages: buttons, headers, badges, alerts, toasts, modals,
// confirmation dialogs and the delete buttons that use them, forms with inline errors, copy fields
// and tabs.
// (Tables live in table.js, the usage bar and charts in charts.js.)

import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { icon } from "./icons.js";

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

export function button({ label, iconName = null, kind = "secondary", onClick = null, type = "button", disabled = false, title = null, small = false }) {
  return h(
    "button",
    { type, class: ["btn", `btn-${kind}`, small && "btn-small"], onClick, disabled, title, "aria-label": !label && title ? title : null },
    iconName && icon(iconName),
    label && h("span", null, label),
  );
}

export function pageHeader({ title, subtitle = null, crumbs = [], actions = [] }) {
  return h(
    "header",
    { class: "page-header" },
    crumbs.length > 0 &&
      h(
        "nav",
        { class: "crumbs", "aria-label": t("common.breadcrumb") },
        crumbs.map((crumb, i) => [i > 0 && h("span", { class: "crumb-sep", "aria-hidden": "true" }, "/"), crumb.href ? h("a", { href: crumb.href }, crumb.label) : h("span", null, crumb.label)]),
      ),
    h("div", { class: "page-title-row" }, h("div", null, h("h1", null, title), subtitle && h("p", { class: "page-subtitle" }, subtitle)), actions.length > 0 && h("div", { class: "page-actions" }, actions)),
  );
}

export function card({ title = null, actions = [], className = null }, ...children) {
  return h(
    "section",
    { class: ["card", className] },
    (title || actions.length > 0) && h("div", { class: "card-header" }, title && h("h2", null, title), actions.length > 0 && h("div", { class: "card-actions" }, actions)),
    h("div", { class: "card-body" }, children),
  );
}

export function badge(text, kind = "neutral") {
  return h("span", { class: ["badge", `badge-${kind}`] }, text);
}

export function alertBox(message, kind = "error") {
  return h("div", { class: ["alert", `alert-${kind}`], role: kind === "error" ? "alert" : "status" }, icon(kind === "error" ? "alert" : "info"), h("span", null, message));
}

export function loading() {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", null, t("common.loading")));
}

/** A "not available" notice, for a part whose API answers 404 on this server (yet). */
export function unavailable() {
  return h("div", { class: "unavailable" }, icon("info", { size: 28 }), h("h2", null, t("common.unavailableTitle")), h("p", null, t("common.unavailableText")));
}

// --- toasts -----------------------------------------------------------------------------------

let toastRegion = null;

/** A short message in the corner that goes away by itself. */
export function toast(message, kind = "success") {
  if (!toastRegion || !toastRegion.isConnected) {
    toastRegion = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(toastRegion);
  }
  const item = h("div", { class: ["toast", `toast-${kind}`] }, icon(kind === "error" ? "alert" : "check"), h("span", null, message));
  toastRegion.appendChild(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

// --- modals -----------------------------------------------------------------------------------

/**
 * Open a dialog. ``content`` is a node or a function (close) => node. Returns
 * {close(result), result: Promise} — the promise settles with what close() was given
 * (undefined when dismissed with Escape, the X or a click outside).
 */
export function modal({ title, content, size = "medium" }) {
  const previousFocus = document.activeElement;
  const titleId = nextId("modal-title");
  let settle;
  const result = new Promise((resolve) => {
    settle = resolve;
  });
  const close = (value) => {
    overlay.remove();
    document.removeEventListener("keydown", onKey);
    if (previousFocus && previousFocus.focus) previousFocus.focus();
    settle(value);
  };
  const onKey = (event) => {
    if (event.key === "Escape") close(undefined);
  };
  const dialog = h(
    "div",
    { class: ["modal", `modal-${size}`], role: "dialog", "aria-modal": "true", "aria-labelledby": titleId },
    h("div", { class: "modal-header" }, h("h2", { id: titleId }, title), button({ kind: "ghost", iconName: "close", title: t("common.close"), onClick: () => close(undefined) })),
    typeof content === "function" ? content(close) : content,
  );
  const overlay = h("div", {
    class: "modal-overlay",
    onMousedown: (event) => {
      if (event.target === overlay) close(undefined);
    },
  }, dialog);
  document.body.appendChild(overlay);
  document.addEventListener("keydown", onKey);
  const focusable = dialog.querySelector("input, select, textarea, .modal-footer button");
  (focusable || dialog).focus();
  return { close, result };
}

/** Ask before doing something that cannot be undone; resolves true when confirmed. */
export async function confirmDialog({ title, message, confirmLabel, danger = true }) {
  const { result } = modal({
    title,
    size: "small",
    content: (close) =>
      h(
        "div",
        null,
        h("div", { class: "modal-body" }, h("p", null, message)),
        h("div", { class: "modal-footer" }, button({ label: t("common.cancel"), onClick: () => close(false) }), button({ label: confirmLabel, kind: danger ? "danger" : "primary", onClick: () => close(true) })),
      ),
  });
  return Boolean(await result);
}

/**
 * The trash button of a list row: asks first (confirm: {title, message}, confirmed with "Delete"
 * unless confirmLabel says otherwise), then awaits remove(), toasts done and calls after(). A
 * failure is toasted instead.
 */
export function deleteButton({ title, confirm, remove, done, after }) {
  return button({
    kind: "ghost",
    small: true,
    iconName: "trash",
    title,
    onClick: async () => {
      if (!(await confirmDialog({ confirmLabel: t("common.delete"), ...confirm }))) return;
      try {
        await remove();
        toast(done);
        after();
      } catch (error) {
        toast(error.message, "error");
      }
    },
  });
}

// --- forms ------------------------------------------------------------------------------------

function control(spec, id, describedBy) {
  // spec.attrs: extra attributes or handlers for the control (a datalist, an input listener).
  const common = { id, name: spec.name, "aria-describedby": describedBy, required: spec.required || null, autocomplete: spec.autocomplete || null, disabled: spec.disabled || null, ...(spec.attrs || {}) };
  switch (spec.type) {
    case "checkbox":
      return h("input", { ...common, type: "checkbox", checked: Boolean(spec.value) });
    case "select":
      return h("select", common, spec.options.map((opt) => h("option", { value: opt.value, selected: String(opt.value) === String(spec.value ?? "") }, opt.label)));
    case "textarea":
      return h("textarea", { ...common, rows: spec.rows || 3, placeholder: spec.placeholder || null }, spec.value ?? "");
    default:
      return h("input", { ...common, type: spec.type || "text", value: spec.value ?? "", placeholder: spec.placeholder || null, min: spec.min ?? null, max: spec.max ?? null, step: spec.step ?? null });
  }
}

/** One labelled form field with a hint and a slot for its error message. */
export function field(spec) {
  const id = nextId(`f-${spec.name}`);
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const input = control(spec, id, [spec.hint && hintId, errorId].filter(Boolean).join(" "));
  const error = h("p", { class: "field-error", id: errorId, role: "alert", hidden: true });
  // The "required" star comes from CSS, so the label's text stays exactly the field's name.
  const label = h("label", { for: id }, spec.label);
  const extra = spec.suffix || null; // e.g. a unit select next to a number
  const el =
    spec.type === "checkbox"
      ? h("div", { class: ["field", "field-checkbox", spec.className] }, h("div", { class: "checkbox-row" }, input, label), spec.hint && h("p", { class: "field-hint", id: hintId }, spec.hint), error)
      : h("div", { class: ["field", spec.required && "is-required", spec.className] }, label, h("div", { class: "field-control" }, input, extra), spec.hint && h("p", { class: "field-hint", id: hintId }, spec.hint), error);
  return {
    spec,
    el,
    input,
    get value() {
      if (spec.type === "checkbox") return input.checked;
      return spec.trim === false ? input.value : input.value.trim();
    },
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      input.setAttribute("aria-invalid", message ? "true" : "false");
      el.classList.toggle("has-error", Boolean(message));
    },
  };
}

/**
 * A form whose fields validate in the browser first and then show the server's message.
 * spec.fields: [{name, label, type, required, value, validate(value, values) -> message|null,
 * serverMatch: [words]}]; onSubmit(values) may throw an ApiError: its message is shown next to
 * the field whose serverMatch words it mentions, else above the buttons. Nothing is sent while
 * any field is invalid. Returns {el, fields, submit}.
 */
export function createForm({ fields, onSubmit, submitLabel, onCancel = null, layout = "stacked", extra = null }) {
  const built = fields.map((spec) => field(spec));
  const byName = Object.fromEntries(built.map((f) => [f.spec.name, f]));
  const formError = h("div", { class: "form-error", hidden: true });
  const submit = button({ label: submitLabel, kind: "primary", type: "submit" });
  const values = () => Object.fromEntries(built.map((f) => [f.spec.name, f.value]));

  const clearErrors = () => {
    built.forEach((f) => f.setError(null));
    formError.hidden = true;
    formError.replaceChildren();
  };
  const showFormError = (message) => {
    formError.replaceChildren(alertBox(message));
    formError.hidden = false;
  };
  const validate = () => {
    const current = values();
    let first = null;
    for (const f of built) {
      const value = current[f.spec.name];
      let message = null;
      if (f.spec.required && (value === "" || value === null)) message = t("form.required");
      else if (f.spec.validate && !(value === "" && !f.spec.required)) message = f.spec.validate(value, current);
      f.setError(message);
      if (message && !first) first = f;
    }
    if (first) first.input.focus();
    return !first;
  };

  const form = h(
    "form",
    {
      class: ["form", `form-${layout}`],
      novalidate: true,
      onSubmit: async (event) => {
        event.preventDefault();
        clearErrors();
        if (!validate()) return;
        submit.disabled = true;
        try {
          await onSubmit(values(), { showFormError, fields: byName });
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          const text = error.message.toLowerCase();
          const target = built.find((f) => (f.spec.serverMatch || []).some((word) => text.includes(word.toLowerCase())));
          if (target) {
            target.setError(error.message);
            target.input.focus();
          } else {
            showFormError(error.message);
          }
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("div", { class: "form-fields" }, built.map((f) => f.el), extra),
    formError,
    h("div", { class: "form-actions" }, onCancel && button({ label: t("common.cancel"), onClick: onCancel }), submit),
  );
  return { el: form, fields: byName, values, submit };
}

/** Returned by a modalForm's onSubmit to keep the dialog open (e.g. after marking an error). */
export const STAY_OPEN = Symbol("stay-open");

/** A modal holding a form; resolves with onSubmit's result, or undefined when cancelled. */
export function modalForm({ title, fields, submitLabel, onSubmit, size = "medium", intro = null, extra = null }) {
  return modal({
    title,
    size,
    content: (close) => {
      const form = createForm({
        fields,
        submitLabel,
        extra,
        onCancel: () => close(undefined),
        onSubmit: async (values, tools) => {
          const result = await onSubmit(values, tools);
          if (result !== STAY_OPEN) close(result);
        },
      });
      form.el.classList.add("modal-form");
      return h("div", { class: "modal-body" }, intro, form.el);
    },
  }).result;
}

// --- small widgets ----------------------------------------------------------------------------

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-HTTP deployments have no Clipboard API: copy through a selected, off-screen field.
  const area = h("textarea", { class: "offscreen", readonly: true }, text);
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy refused");
}

/** A read-only value with a copy-to-clipboard button (pull commands, secrets). */
export function copyField(text, { label = null } = {}) {
  const id = nextId("copy");
  return h(
    "div",
    { class: "copy-field" },
    label && h("label", { for: id, class: "copy-label" }, label),
    h(
      "div",
      { class: "copy-row" },
      h("input", { id, type: "text", readonly: true, value: text, class: "mono", onFocus: (event) => event.target.select() }),
      button({
        iconName: "copy",
        label: t("common.copy"),
        small: true,
        onClick: async () => {
          try {
            await copyText(text);
            toast(t("common.copied"));
          } catch {
            toast(t("common.copyFailed"), "error");
          }
        },
      }),
    ),
  );
}

/** Tabs as links, so each tab has its own URL and the back button works. */
export function tabs(items) {
  return h(
    "nav",
    { class: "tabs", "aria-label": t("common.sections") },
    items.map((item) => h("a", { href: item.href, class: ["tab", item.active && "active"], "aria-current": item.active ? "page" : null }, item.label)),
  );
}

export function statCard({ label, value, iconName, hint = null }) {
  return h("div", { class: "stat" }, h("div", { class: "stat-icon" }, icon(iconName, { size: 22 })), h("div", null, h("div", { class: "stat-value" }, value), h("div", { class: "stat-label" }, label), hint && h("div", { class: "stat-hint" }, hint)));
}

/** A small definition list: [[label, value-or-node], ...]. */
export function details(pairs) {
  return h("dl", { class: "details" }, pairs.filter(Boolean).map(([label, value]) => [h("dt", null, label), h("dd", null, value === "" || value === null || value === undefined ? "—" : value)]));
}

/** A menu that opens from a button (user menu, row actions). items: [{label, iconName, onClick, danger}] */
export function dropdown({ label, iconName = null, items, align = "right", className = null }) {
  const menuId = nextId("menu");
  const toggle = h("button", { type: "button", class: ["btn", "btn-ghost", "dropdown-toggle"], "aria-haspopup": "true", "aria-expanded": "false", "aria-controls": menuId }, iconName && icon(iconName), h("span", { class: "dropdown-label" }, label), icon("chevronDown", { size: 14 }));
  const menu = h(
    "div",
    { class: ["dropdown-menu", `align-${align}`], id: menuId, role: "menu", hidden: true },
    items.filter(Boolean).map((item) =>
      h("button", { type: "button", role: "menuitem", class: ["dropdown-item", item.danger && "danger", item.active && "active"], onClick: () => { setOpen(false); item.onClick(); } }, item.iconName && icon(item.iconName), h("span", null, item.label)),
    ),
  );
  const wrapper = h("div", { class: ["dropdown", className] }, toggle, menu);
  const onOutside = (event) => {
    if (!wrapper.contains(event.target)) setOpen(false);
  };
  function setOpen(open) {
    menu.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) document.addEventListener("mousedown", onOutside);
    else document.removeEventListener("mousedown", onOutside);
  }
  toggle.addEventListener("click", () => setOpen(menu.hidden));
  wrapper.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setOpen(false);
  });
  return wrapper;
}

/** A search input that calls onSearch(text) once typing pauses. */
export function searchBox({ placeholder, onSearch, delay = 250 }) {
  let timer = null;
  return h(
    "div",
    { class: "search-box" },
    icon("search", { size: 16 }),
    h("input", {
      type: "search",
      placeholder,
      "aria-label": placeholder,
      onInput: (event) => {
        clearTimeout(timer);
        timer = setTimeout(() => onSearch(event.target.value.trim()), delay);
      },
    }),
  );
}
