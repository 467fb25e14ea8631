// Audit-log pictures and lists: push/pull activity per day as a bar chart, and the filtered,
// sortable audit table used by the administrators' log page and each project's log tab.

import * as api from "./api.js";
import { alertBox, badge, button, card, loading } from "./components.js";
import { h, mount } from "./dom.js";
import { currentLanguage, t } from "./i18n.js";
import { dateTime, qTime } from "./format.js";
import { barChart } from "./charts.js";
import { dataTable } from "./table.js";

const RANGES = [7, 14, 30];
const CONCURRENCY = 4;

/** Run fn over items with at most ``limit`` calls in flight; results in input order. */
async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function localDays(count) {
  const days = [];
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  for (let i = count - 1; i >= 0; i -= 1) {
    const start = new Date(today);
    start.setDate(today.getDate() - i);
    const end = new Date(start);
    end.setDate(start.getDate() + 1);
    days.push({ start, end });
  }
  return days;
}

const PAGE = 100;
const MAX_LOCAL_PAGES = 5;

/** Pushes and pulls per local day, counted in the browser from the entries themselves. */
async function countLocally(path, days, q, first) {
  const entries = [...first.items];
  for (let page = 2; page <= Math.ceil(first.total / PAGE); page += 1) {
    entries.push(...(await api.list(path, { page, page_size: PAGE, q, sort: "id" })).items);
  }
  const counts = { push: days.map(() => 0), pull: days.map(() => 0) };
  for (const entry of entries) {
    const when = new Date(entry.op_time);
    const index = days.findIndex((day) => when >= day.start && when < day.end);
    if (index >= 0 && counts[entry.operation]) counts[entry.operation][index] += 1;
  }
  return counts;
}

/** Pushes and pulls per local day, counted by the server: one request per day and operation
 * reads X-Total-Count, so busy registries cost a fixed number of small requests. */
async function countOnServer(path, days) {
  const jobs = days.flatMap((day) => ["push", "pull"].map((operation) => ({ day, operation })));
  const counts = await mapLimit(jobs, CONCURRENCY, async ({ day, operation }) => {
    // The end bound is inclusive on the server: stop one second before the next day.
    const end = new Date(day.end.getTime() - 1000);
    const { total } = await api.list(path, { page: 1, page_size: 1, q: `operation=${operation},op_time=[${qTime(day.start)}~${qTime(end)}]` });
    return total;
  });
  return { push: counts.filter((_, i) => i % 2 === 0), pull: counts.filter((_, i) => i % 2 === 1) };
}

/** Daily push and pull counts over ``days``: a few pages of entries when there are few, else
 * one count per day and operation. */
async function dailyCounts(path, days) {
  const end = new Date(days[days.length - 1].end.getTime() - 1000);
  const q = `operation={push pull},op_time=[${qTime(days[0].start)}~${qTime(end)}]`;
  const first = await api.list(path, { page: 1, page_size: PAGE, q, sort: "id" });
  return first.total <= PAGE * MAX_LOCAL_PAGES ? countLocally(path, days, q, first) : countOnServer(path, days);
}

/** A card with the push/pull chart and a 7/14/30-day switch. path: an audit-log list; hint:
 * a line under the chart (e.g. what the counts cover). */
export function activityCard(path = "/audit-logs", hint = null) {
  const body = h("div", { class: "chart-slot" }, loading());
  let range = 14;
  const switcher = h(
    "div",
    { class: "segmented", role: "group", "aria-label": t("activity.range") },
    RANGES.map((days) => h("button", { type: "button", class: ["segment", days === range && "active"], "aria-pressed": String(days === range), onClick: () => draw(days) }, t("activity.days", { days }))),
  );
  async function draw(days) {
    range = days;
    switcher.querySelectorAll(".segment").forEach((el, i) => {
      el.classList.toggle("active", RANGES[i] === days);
      el.setAttribute("aria-pressed", String(RANGES[i] === days));
    });
    mount(body, loading());
    try {
      const dayList = localDays(days);
      const counts = await dailyCounts(path, dayList);
      const format = new Intl.DateTimeFormat(currentLanguage(), { month: "short", day: "numeric" });
      const quiet = [...counts.push, ...counts.pull].every((n) => n === 0);
      mount(
        body,
        quiet && h("p", { class: "chart-empty" }, t("activity.none")),
        barChart({
          title: t("activity.title"),
          // Draw at the card's real width so text keeps its size on wide and narrow screens.
          width: Math.max(320, body.clientWidth || 760),
          labels: dayList.map((d) => format.format(d.start)),
          series: [
            { name: t("activity.pushes"), values: counts.push, className: "series-push" },
            { name: t("activity.pulls"), values: counts.pull, className: "series-pull" },
          ],
        }),
      );
    } catch (error) {
      mount(body, alertBox(error.status === 403 ? t("activity.forbidden") : error.message, error.status === 403 ? "info" : "error"));
    }
  }
  draw(range);
  return card({ title: t("activity.title"), actions: [switcher] }, body, hint && h("p", { class: "muted small" }, hint));
}

const OPERATIONS = ["create", "update", "delete", "push", "pull", "login", "logout"];
const RESOURCE_TYPES = ["project", "repository", "artifact", "tag", "member", "robot", "user", "configuration", "webhook"];

function operationBadge(operation) {
  const kind = { delete: "danger", push: "info", pull: "neutral", create: "success" }[operation] || "neutral";
  return badge(t(`operation.${operation}`) === `operation.${operation}` ? operation : t(`operation.${operation}`), kind);
}

function dateInput(label) {
  const input = h("input", { type: "date", "aria-label": label });
  return { input, el: h("label", { class: "filter" }, h("span", null, label), input) };
}

/** The audit log table with its filter bar. path: "/auditlog-exts" or a project's. */
export function auditTable(path) {
  const username = h("input", { type: "search", placeholder: t("audit.username"), "aria-label": t("audit.username") });
  const operation = h("select", { "aria-label": t("audit.operation") }, h("option", { value: "" }, t("audit.allOperations")), OPERATIONS.map((op) => h("option", { value: op }, t(`operation.${op}`))));
  const resourceType = h("select", { "aria-label": t("audit.resourceType") }, h("option", { value: "" }, t("audit.allTypes")), RESOURCE_TYPES.map((type) => h("option", { value: type }, t(`resource.${type}`))));
  const resource = h("input", { type: "search", placeholder: t("audit.resource"), "aria-label": t("audit.resource") });
  const from = dateInput(t("audit.from"));
  const to = dateInput(t("audit.to"));
  const rangeError = h("p", { class: "field-error", role: "alert", hidden: true });
  let query = "";

  function buildQuery() {
    const parts = [api.fuzzy("username", username.value), api.fuzzy("resource", resource.value)];
    if (operation.value) parts.push(`operation=${operation.value}`);
    if (resourceType.value) parts.push(`resource_type=${resourceType.value}`);
    const start = from.input.value ? new Date(`${from.input.value}T00:00:00`) : null;
    const end = to.input.value ? new Date(`${to.input.value}T23:59:59`) : null;
    if (start && end && start > end) return null;
    if (start || end) parts.push(`op_time=[${start ? qTime(start) : ""}~${end ? qTime(end) : ""}]`);
    return parts.filter(Boolean).join(",");
  }

  const table = dataTable({
    label: t("audit.title"),
    sort: "-op_time",
    empty: t("audit.none"),
    load: ({ page, pageSize, sort }) => api.list(path, { page, page_size: pageSize, sort, q: query }),
    columns: [
      { key: "op_time", label: t("audit.time"), sort: "op_time", className: "nowrap", render: (e) => dateTime(e.op_time) },
      { key: "username", label: t("audit.username"), sort: "username", render: (e) => h("span", { class: "strong" }, e.username) },
      { key: "operation", label: t("audit.operation"), sort: "operation", render: (e) => operationBadge(e.operation) },
      { key: "resource_type", label: t("audit.resourceType"), sort: "resource_type", render: (e) => e.resource_type },
      { key: "resource", label: t("audit.resource"), sort: "resource", render: (e) => h("span", { class: "mono break" }, e.resource) },
      { key: "operation_result", label: t("audit.result"), render: (e) => (e.operation_result === false ? badge(t("audit.failed"), "danger") : badge(t("audit.succeeded"), "success")) },
    ],
  });
  const apply = (event) => {
    event.preventDefault();
    const built = buildQuery();
    rangeError.hidden = built !== null;
    rangeError.textContent = built === null ? t("audit.rangeInvalid") : "";
    to.input.setAttribute("aria-invalid", String(built === null));
    if (built === null) return;
    query = built;
    table.reload({ resetPage: true });
  };
  const filters = h(
    "form",
    { class: "filters", onSubmit: apply },
    h("label", { class: "filter" }, h("span", null, t("audit.username")), username),
    h("label", { class: "filter" }, h("span", null, t("audit.operation")), operation),
    h("label", { class: "filter" }, h("span", null, t("audit.resourceType")), resourceType),
    h("label", { class: "filter" }, h("span", null, t("audit.resource")), resource),
    from.el,
    h("div", { class: "filter" }, to.el, rangeError),
    h("div", { class: "filter filter-submit" }, button({ label: t("audit.apply"), kind: "primary", type: "submit", iconName: "search" })),
  );
  return h("div", { class: "audit" }, filters, table.el);
}
