// Administration: the job service monitor — worker pools, busy workers, queues (pause, resume,
// stop pending jobs) and schedules. Each part says "not available" while its API answers 404.

import * as api from "../api.js";
import { badge, button, card, confirmDialog, pageHeader, toast, unavailable } from "../components.js";
import { h, mount } from "../dom.js";
import { dateTime, number } from "../format.js";
import { t } from "../i18n.js";
import { actionsColumn, dataTable, localSource } from "../table.js";

/** A card whose table loads with ``fetcher``; a 404 turns the card into a "not available" note. */
function section(title, path, tableSpec, fetcher = () => api.get(path)) {
  const body = h("div");
  const spec = {
    ...tableSpec,
    label: title,
    load: localSource(async () => {
      try {
        return (await fetcher()) || [];
      } catch (error) {
        if (error.status === 404) {
          mount(body, unavailable());
          return [];
        }
        throw error;
      }
    }),
  };
  const table = dataTable(spec);
  mount(body, table.el);
  return { el: card({ title }, body), table };
}

export async function render(root, ctx) {
  ctx.setTitle(t("nav.jobs"));
  const pools = section(t("jobs.pools"), "/jobservice/pools", {
    sort: "worker_pool_id",
    pageSize: 10,
    empty: t("jobs.noPools"),
    columns: [
      { key: "worker_pool_id", label: t("jobs.pool"), sort: "worker_pool_id", render: (p) => h("span", { class: "mono" }, p.worker_pool_id) },
      { key: "host", label: t("jobs.host"), sort: "host" },
      { key: "pid", label: t("jobs.pid"), sort: "pid", className: "num" },
      { key: "concurrency", label: t("jobs.concurrency"), sort: "concurrency", className: "num" },
      { key: "start_at", label: t("jobs.started"), sort: "start_at", render: (p) => dateTime(p.start_at) },
      { key: "heartbeat_at", label: t("jobs.heartbeat"), sort: "heartbeat_at", render: (p) => dateTime(p.heartbeat_at) },
    ],
  });
  const workers = section(t("jobs.workers"), "/jobservice/pools/all/workers", {
    sort: "id",
    pageSize: 10,
    empty: t("jobs.noWorkers"),
    columns: [
      { key: "id", label: t("jobs.worker"), sort: "id", render: (w) => h("span", { class: "mono" }, w.id) },
      { key: "job_name", label: t("jobs.jobName"), sort: "job_name", render: (w) => w.job_name || h("span", { class: "muted" }, t("jobs.idle")) },
      { key: "job_id", label: t("jobs.jobId"), render: (w) => (w.job_id ? h("span", { class: "mono" }, w.job_id) : "—") },
      { key: "start_at", label: t("jobs.started"), sort: "start_at", render: (w) => dateTime(w.start_at) },
      { key: "checkin_at", label: t("jobs.checkin"), sort: "checkin_at", render: (w) => dateTime(w.checkin_at) },
    ],
  });
  const queueAction = async (jobType, action) => {
    if (action === "stop" && !(await confirmDialog({ title: t("jobs.stopTitle"), message: t("jobs.stopConfirm", { type: jobType }), confirmLabel: t("jobs.stop") }))) return;
    try {
      await api.put(`/jobservice/queues/${encodeURIComponent(jobType)}`, { action });
      toast(t(`jobs.${action}Done`, { type: jobType }));
      queues.table.reload();
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const queues = section(t("jobs.queues"), "/jobservice/queues", {
    sort: "-count",
    pageSize: 10,
    empty: t("jobs.noQueues"),
    columns: [
      { key: "job_type", label: t("jobs.jobType"), sort: "job_type", render: (q) => h("span", { class: "strong" }, q.job_type) },
      { key: "count", label: t("jobs.pending"), sort: "count", className: "num", render: (q) => number(q.count) },
      { key: "latency", label: t("jobs.latency"), sort: "latency", className: "num", render: (q) => t("jobs.seconds", { n: number(q.latency) }) },
      { key: "paused", label: t("common.status"), render: (q) => (q.paused ? badge(t("jobs.paused"), "warn") : badge(t("jobs.running"), "success")) },
      actionsColumn((q) =>
        h(
          "span",
          { class: "row-actions" },
          button({ small: true, kind: "ghost", label: q.paused ? t("jobs.resume") : t("jobs.pause"), onClick: () => queueAction(q.job_type, q.paused ? "resume" : "pause") }),
          button({ small: true, kind: "ghost", label: t("jobs.stop"), onClick: () => queueAction(q.job_type, "stop") }),
        ),
      ),
    ],
  });
  const schedules = section(t("jobs.schedules"), "/schedules", {
    sort: "vendor_type",
    pageSize: 10,
    empty: t("jobs.noSchedules"),
    columns: [
      { key: "vendor_type", label: t("jobs.jobType"), sort: "vendor_type", render: (s) => h("span", { class: "strong" }, s.vendor_type) },
      { key: "cron", label: t("jobs.cron"), render: (s) => h("span", { class: "mono" }, s.cron || "—") },
      { key: "update_time", label: t("common.updated"), sort: "update_time", render: (s) => dateTime(s.update_time) },
    ],
  }, () => api.listAll("/schedules"));
  mount(
    root,
    pageHeader({ title: t("nav.jobs"), subtitle: t("jobs.subtitle"), actions: [button({ label: t("common.refresh"), iconName: "refresh", onClick: () => [pools, workers, queues, schedules].forEach((s) => s.table.reload()) })] }),
    pools.el,
    h("div", { class: "grid two" }, queues.el, schedules.el),
    workers.el,
  );
}
