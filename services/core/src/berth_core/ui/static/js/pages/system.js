// Administration: health of every component, storage volume and system information.

import * as api from "../api.js";
import { badge, button, card, details, pageHeader } from "../components.js";
import { h, mount } from "../dom.js";
import { bytes, number } from "../format.js";
import { t } from "../i18n.js";
import { usageBar } from "../charts.js";
import { refresh } from "../router.js";

function healthCard(health) {
  const rows = (health.components || []).map((c) =>
    h("tr", null, h("td", { "data-label": t("system.component") }, h("span", { class: "strong" }, c.name)), h("td", { "data-label": t("common.status") }, badge(c.status === "healthy" ? t("system.healthy") : t("system.unhealthy"), c.status === "healthy" ? "success" : "danger")), h("td", { "data-label": t("system.error") }, c.error || "—")),
  );
  return card(
    { title: t("system.health"), actions: [badge(health.status === "healthy" ? t("system.healthy") : t("system.unhealthy"), health.status === "healthy" ? "success" : "danger")] },
    h("div", { class: "table-scroll" }, h("table", { class: "table", "aria-label": t("system.health") }, h("thead", null, h("tr", null, h("th", { scope: "col" }, t("system.component")), h("th", { scope: "col" }, t("common.status")), h("th", { scope: "col" }, t("system.error")))), h("tbody", null, rows))),
  );
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
