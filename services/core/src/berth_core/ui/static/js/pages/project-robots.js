// A project's robot accounts: create (permissions, expiry, secret shown once), disable,
// refresh the secret, delete.

import * as api from "../api.js";
import { button } from "../components.js";
import { mount } from "../dom.js";
import { t } from "../i18n.js";
import { createRobot, robotActions, robotColumns } from "../robot-form.js";
import { actionsColumn, dataTable } from "../table.js";

export async function render(root, { project, perms }) {
  const canUpdate = perms.can("robot", "update");
  const canDelete = perms.can("robot", "delete");
  const table = dataTable({
    label: t("projectTab.robots"),
    sort: "name",
    empty: t("robot.none"),
    load: ({ page, pageSize, sort }) => api.list("/robots", { page, page_size: pageSize, sort, q: `Level=project,ProjectID=${project.project_id}` }),
    columns: [
      ...robotColumns(),
      (canUpdate || canDelete) && actionsColumn((r) => robotActions(r, { canUpdate, canDelete, reload: () => table.reload() })),
    ].filter(Boolean),
    toolbar: perms.can("robot", "create") && button({ label: t("robot.newProject"), iconName: "plus", kind: "primary", onClick: async () => (await createRobot(project)) && table.reload() }),
  });
  mount(root, table.el);
}
