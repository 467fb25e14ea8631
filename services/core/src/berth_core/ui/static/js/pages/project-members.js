// Project members: users and LDAP groups with their roles; add, change role, remove.

import * as api from "../api.js";
import { badge, button, deleteButton, modalForm, toast } from "../components.js";
import { h, mount } from "../dom.js";
import { ROLES, roleName } from "../format.js";
import { t } from "../i18n.js";
import { forgetPermissions, session } from "../session.js";
import { actionsColumn, dataTable, localSource } from "../table.js";

function roleOptions() {
  return ROLES.map((role) => ({ value: role.id, label: t(role.key) }));
}

async function suggestUsers(text, list) {
  if (!text) return;
  const found = await api.get("/users/search", { username: text, page_size: 10 }).catch(() => []);
  mount(list, (found || []).map((user) => h("option", { value: user.username })));
}

function addUser(project) {
  const suggestions = h("datalist", { id: `member-suggestions-${project.project_id}` });
  let timer = null;
  return modalForm({
    title: t("member.addUser"),
    submitLabel: t("common.add"),
    extra: suggestions,
    fields: [
      {
        name: "username",
        label: t("user.username"),
        required: true,
        autocomplete: "off",
        serverMatch: ["user", "member", "exist"],
        attrs: {
          list: suggestions.id,
          onInput: (event) => {
            clearTimeout(timer);
            timer = setTimeout(() => suggestUsers(event.target.value.trim(), suggestions), 200);
          },
        },
      },
      { name: "role_id", label: t("member.role"), type: "select", value: 2, options: roleOptions() },
    ],
    onSubmit: async (values) => {
      await api.post(`/projects/${project.project_id}/members`, { role_id: Number(values.role_id), member_user: { username: values.username } });
      toast(t("member.added", { name: values.username }));
      return true;
    },
  });
}

function addGroup(project) {
  return modalForm({
    title: t("member.addGroup"),
    submitLabel: t("common.add"),
    fields: [
      { name: "ldap_group_dn", label: t("member.groupDn"), required: true, hint: t("member.groupDnHint"), serverMatch: ["group", "dn", "exist"] },
      { name: "role_id", label: t("member.role"), type: "select", value: 3, options: roleOptions() },
    ],
    onSubmit: async (values) => {
      await api.post(`/projects/${project.project_id}/members`, { role_id: Number(values.role_id), member_group: { ldap_group_dn: values.ldap_group_dn, group_type: 1 } });
      toast(t("member.added", { name: values.ldap_group_dn }));
      return true;
    },
  });
}

export async function render(root, { project, perms }) {
  const base = `/projects/${project.project_id}/members`;
  const canUpdate = perms.can("member", "update");
  const canDelete = perms.can("member", "delete");
  const table = dataTable({
    label: t("projectTab.members"),
    sort: "entity_name",
    empty: t("member.none"),
    search: t("member.search"),
    load: localSource(({ search }) => api.listAll(base, { entityname: search })),
    columns: [
      { key: "entity_name", label: t("member.name"), sort: "entity_name", render: (m) => h("span", { class: "strong" }, m.entity_name) },
      { key: "entity_type", label: t("member.type"), sort: "entity_type", render: (m) => badge(m.entity_type === "g" ? t("member.group") : t("member.user")) },
      {
        key: "role_id",
        label: t("member.role"),
        sort: "role_id",
        render: (m) => {
          const self = m.entity_type === "u" && m.entity_name === session.user?.username;
          if (!canUpdate || self) return roleName(m.role_id);
          return h(
            "select",
            {
              "aria-label": t("member.roleOf", { name: m.entity_name }),
              class: "inline-select",
              onChange: async (event) => {
                const select = event.target;
                try {
                  await api.put(`${base}/${m.id}`, { role_id: Number(select.value) });
                  forgetPermissions();
                  toast(t("member.roleChanged", { name: m.entity_name, role: roleName(select.value) }));
                  m.role_id = Number(select.value);
                } catch (error) {
                  select.value = String(m.role_id); // nothing changed on the server: show the old role again
                  toast(error.message, "error");
                }
              },
            },
            ROLES.map((role) => h("option", { value: role.id, selected: role.id === m.role_id }, t(role.key))),
          );
        },
      },
      canDelete &&
        actionsColumn((m) =>
          deleteButton({
            title: t("member.remove", { name: m.entity_name }),
            confirm: { title: t("member.removeTitle"), message: t("member.removeConfirm", { name: m.entity_name }), confirmLabel: t("common.remove") },
            remove: async () => {
              await api.del(`${base}/${m.id}`);
              forgetPermissions();
            },
            done: t("member.removed", { name: m.entity_name }),
            after: () => table.reload(),
          }),
        ),
    ].filter(Boolean),
    toolbar: [
      perms.can("member", "create") && button({ label: t("member.addUser"), iconName: "plus", kind: "primary", onClick: async () => (await addUser(project)) && table.reload() }),
      perms.can("member", "create") && session.info.auth_mode === "ldap_auth" && button({ label: t("member.addGroup"), iconName: "users", onClick: async () => (await addGroup(project)) && table.reload() }),
    ],
  });
  mount(root, table.el);
}
