// Administration: clean-up jobs — garbage collection and audit-log purge: run now, schedule,
// history with logs. Each part says "not available" while its API answers 404.

import * as api from "../api.js";
import { alertBox, badge, button, card, modal, modalForm, pageHeader, toast, unavailable } from "../components.js";
import { h, mount } from "../dom.js";
import { dateTime } from "../format.js";
import { t } from "../i18n.js";
import { dataTable } from "../table.js";

// The audit-log operations a purge can remove, as Harbor's purge dialog offers them.
const PURGE_OPERATIONS = ["create", "delete", "pull"];

function statusBadge(status) {
  const kind = { Success: "success", Error: "danger", Stopped: "neutral", Running: "info", Pending: "info" }[status] || "neutral";
  return badge(status || "—", kind);
}

async function showLog(path, title) {
  const body = h("pre", { class: "log" }, t("common.loading"));
  modal({ title, size: "large", content: h("div", { class: "modal-body" }, body) });
  try {
    body.textContent = (await api.get(path, null, { text: true })) || t("cleanup.emptyLog");
  } catch (error) {
    body.replaceWith(alertBox(error.message));
  }
}

/** History table of one job kind plus its "run now" and schedule line. */
function jobCard({ title, base, runFields, toParameters }) {
  const body = h("div");
  const scheduleLine = h("p", { class: "muted" });
  const table = dataTable({
    label: title,
    sort: "-creation_time",
    pageSize: 10,
    empty: t("cleanup.noHistory"),
    load: async ({ page, pageSize, sort }) => {
      try {
        return await api.list(base, { page, page_size: pageSize, sort });
      } catch (error) {
        if (error.status === 404) {
          mount(body, unavailable());
          runButton.hidden = true;
        }
        throw error;
      }
    },
    columns: [
      { key: "id", label: t("cleanup.id"), sort: "id", className: "num" },
      { key: "job_kind", label: t("cleanup.trigger"), render: (job) => job.job_kind || job.schedule?.type || "—" },
      { key: "job_status", label: t("common.status"), render: (job) => statusBadge(job.job_status) },
      { key: "job_parameters", label: t("cleanup.parameters"), render: (job) => h("span", { class: "mono small break" }, job.job_parameters || "—") },
      { key: "creation_time", label: t("common.created"), sort: "creation_time", render: (job) => dateTime(job.creation_time) },
      { key: "update_time", label: t("common.updated"), render: (job) => dateTime(job.update_time) },
      { key: "log", label: t("cleanup.log"), render: (job) => button({ small: true, kind: "ghost", label: t("cleanup.viewLog"), onClick: () => showLog(`${base}/${job.id}/log`, `${title} #${job.id}`) }) },
    ],
  });
  const runButton = button({ label: t("cleanup.runNow"), iconName: "broom", kind: "primary", small: true, onClick: () => run() });
  const run = async () => {
    const started = await modalForm({
      title: t("cleanup.runTitle", { what: title }),
      submitLabel: t("cleanup.runNow"),
      fields: runFields(),
      onSubmit: async (values) => {
        await api.post(`${base}/schedule`, { schedule: { type: "Manual" }, parameters: toParameters(values) });
        toast(t("cleanup.started", { what: title }));
        return true;
      },
    });
    if (started) table.reload();
  };
  api
    .get(`${base}/schedule`)
    .then((schedule) => mount(scheduleLine, t("cleanup.schedule", { schedule: schedule?.schedule?.type && schedule.schedule.type !== "None" ? `${schedule.schedule.type} ${schedule.schedule.cron || ""}` : t("cleanup.none") })))
    .catch(() => mount(scheduleLine, ""));
  mount(body, scheduleLine, table.el);
  return card({ title, actions: [runButton] }, body);
}

export async function render(root, ctx) {
  ctx.setTitle(t("nav.cleanup"));
  mount(
    root,
    pageHeader({ title: t("nav.cleanup"), subtitle: t("cleanup.subtitle") }),
    jobCard({
      title: t("cleanup.gc"),
      base: "/system/gc",
      runFields: () => [
        { name: "delete_untagged", label: t("cleanup.deleteUntagged"), type: "checkbox", value: true },
        { name: "dry_run", label: t("cleanup.dryRun"), type: "checkbox", value: false },
        { name: "workers", label: t("cleanup.workers"), type: "number", value: "1", required: true, validate: (v) => (Number.isInteger(Number(v)) && Number(v) >= 1 && Number(v) <= 5 ? null : t("validation.range", { min: 1, max: 5 })) },
      ],
      toParameters: (v) => ({ delete_untagged: v.delete_untagged, dry_run: v.dry_run, workers: Number(v.workers) }),
    }),
    jobCard({
      title: t("cleanup.purge"),
      base: "/system/purgeaudit",
      runFields: () => [
        { name: "audit_retention_hour", label: t("cleanup.retentionHours"), type: "number", value: "720", required: true, validate: (v) => (Number.isInteger(Number(v)) && Number(v) >= 1 && Number(v) <= 876000 ? null : t("validation.range", { min: 1, max: 876000 })) },
        // Harbor purges only the operations it is told to; nothing when none is chosen.
        ...PURGE_OPERATIONS.map((op, i) => ({
          name: `purge_${op}`,
          label: t("cleanup.purgeOperation", { operation: t(`operation.${op}`) }),
          type: "checkbox",
          value: true,
          validate: i === PURGE_OPERATIONS.length - 1 ? (_, values) => (PURGE_OPERATIONS.some((o) => values[`purge_${o}`]) ? null : t("cleanup.operationRequired")) : null,
        })),
        { name: "dry_run", label: t("cleanup.dryRun"), type: "checkbox", value: false },
      ],
      toParameters: (v) => ({
        audit_retention_hour: Number(v.audit_retention_hour),
        include_operations: PURGE_OPERATIONS.filter((op) => v[`purge_${op}`]).join(","),
        dry_run: v.dry_run,
      }),
    }),
  );
}
