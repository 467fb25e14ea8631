// Administration: health of every component, storage volume and system information.

import * as api from "../api.js";
import { badge, button, card, details, pageHeader } from "../components.js";
import { h, mount } from "../dom.js";
import { bytes, number } from "../format.js";
import { t } from "../i18n.js";
import { usageBar } from "../charts.js";
import { refresh } from "../router.js";
import { dataTable, localSource } from "../table.js";

function healthCard(health) {
  const table = dataTable({
    label: t("system.health"),
    sort: "name",
    pageSize: 10,
    load: localSource(() => health.components || []),
    columns: [
      { key: "name", label: t("system.component"), sort: "name", render: (c) => h("span", { class: "strong" }, c.name) },
      { key: "status", label: t("common.status"), sort: "status", render: (c) => badge(c.status === "healthy" ? t("system.healthy") : t("system.unhealthy"), c.status === "healthy" ? "success" : "danger") },
      { key: "error", label: t("system.error"), render: (c) => c.error || "—" },
    ],
  });
  const overall = health.status === "healthy";
  return card({ title: t("system.health"), actions: [badge(overall ? t("system.healthy") : t("system.unhealthy"), overall ? "success" : "danger")] }, table.el);
}

export async function render(root, ctx) {
  ctx.setTitle(t("nav.system"));
  const [health, info, volumes, stats] = await Promise.all([
    api.get("/health").catch((error) => ({ status: "unhealthy", components: [{ name: "core", status: "unhealthy", error: error.message }] })),
    api.get("/systeminfo").catch(() => ({})),
    api.get("/systeminfo/volumes").catch(() => null),
    api.get("/statistics").catch(() => null),
  ]);
  const storage = volumes?.storage?.[0];
  mount(
    root,
    pageHeader({ title: t("nav.system"), subtitle: t("system.subtitle"), actions: [button({ label: t("common.refresh"), iconName: "refresh", onClick: () => refresh() })] }),
    h("div", { class: "grid two" }, healthCard(health), card(
      { title: t("system.info") },
      details([
        [t("system.version"), info.harbor_version || "—"],
        [t("system.authMode"), info.auth_mode || "—"],
        [t("system.externalUrl"), info.external_url || "—"],
        [t("system.registryUrl"), info.registry_url || "—"],
        [t("system.storageProvider"), info.registry_storage_provider_name || "—"],
        [t("system.readOnly"), info.read_only ? t("common.yes") : t("common.no")],
        [t("system.selfRegistration"), info.self_registration ? t("common.yes") : t("common.no")],
        [t("system.projectCreation"), info.project_creation_restriction || "—"],
      ]),
    )),
    h(
      "div",
      { class: "grid two" },
      card({ title: t("system.volume") }, storage ? usageBar(storage.total - storage.free, storage.total) : h("p", { class: "muted" }, t("system.noVolume"))),
      stats && card({ title: t("system.content") }, details([[t("stats.projects"), number(stats.total_project_count)], [t("stats.repositories"), number(stats.total_repo_count)], [t("stats.storage"), bytes(stats.total_storage_consumption)]])),
    ),
  );
}
