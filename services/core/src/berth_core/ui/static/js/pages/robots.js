// Administration: every robot account, and new system-level robots.

import * as api from "../api.js";
import { badge, button, pageHeader, searchBox } from "../components.js";
import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { createRobot, robotActions, robotColumns } from "../robot-form.js";
import { dataTable } from "../table.js";

export async function render(root, ctx) {
  ctx.setTitle(t("nav.robots"));
  let search = "";
  const table = dataTable({
    label: t("nav.robots"),
    sort: "name",
    empty: t("robot.none"),
    load: ({ page, pageSize, sort }) => api.list("/robots", { page, page_size: pageSize, sort, q: api.fuzzy("name", search) }),
    columns: [
      ...robotColumns(),
      { key: "level", label: t("robot.level"), render: (r) => badge(r.level === "system" ? t("robot.system") : t("robot.project")) },
      { key: "actions", label: h("span", { class: "sr-only" }, t("common.actions")), className: "actions", render: (r) => robotActions(r, { canUpdate: true, canDelete: true, reload: () => table.reload() }) },
    ],
    toolbar: searchBox({
      placeholder: t("robot.search"),
      onSearch: (text) => {
        search = text;
        table.reload({ resetPage: true });
      },
    }),
  });
  mount(
    root,
    pageHeader({ title: t("nav.robots"), subtitle: t("robot.subtitle"), actions: [button({ label: t("robot.newSystem"), iconName: "plus", kind: "primary", onClick: async () => (await createRobot(null)) && table.reload() })] }),
    table.el,
  );
}
