// Administration: every robot account, and new system-level robots.

import * as api from "../api.js";
import { badge, button, pageHeader } from "../components.js";
import { mount } from "../dom.js";
import { t } from "../i18n.js";
import { createRobot, robotActions, robotColumns } from "../robot-form.js";
import { actionsColumn, dataTable } from "../table.js";

export async function render(root, ctx) {
  ctx.setTitle(t("nav.robots"));
  const table = dataTable({
    label: t("nav.robots"),
    sort: "name",
    empty: t("robot.none"),
    search: t("robot.search"),
    load: ({ page, pageSize, sort, search }) => api.list("/robots", { page, page_size: pageSize, sort, q: api.fuzzy("name", search) }),
    columns: [
      ...robotColumns(),
      { key: "level", label: t("robot.level"), render: (r) => badge(r.level === "system" ? t("robot.system") : t("robot.project")) },
      actionsColumn((r) => robotActions(r, { canUpdate: true, canDelete: true, reload: () => table.reload() })),
    ],
  });
  mount(
    root,
    pageHeader({ title: t("nav.robots"), subtitle: t("robot.subtitle"), actions: [button({ label: t("robot.newSystem"), iconName: "plus", kind: "primary", onClick: async () => (await createRobot(null)) && table.reload() })] }),
    table.el,
  );
}
