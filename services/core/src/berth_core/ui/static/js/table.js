// The list table used by every page: server-side paging and sorting through Harbor's
// page / page_size / sort parameters, a loading state, an empty state and inline errors.

import { h, mount } from "./dom.js";
import { t } from "./i18n.js";
import { icon } from "./icons.js";
import { alertBox, button, searchBox } from "./components.js";

const PAGE_SIZES = [10, 15, 25, 50, 100];

/**
 * columns: [{key, label, sort (the API's sort key, optional), render(row) -> node|string,
 *            className}]
 * load({page, pageSize, sort, search}) -> {items, total}; sort is Harbor's "key" or "-key".
 * search: the placeholder of a search box above the table; its text reaches load() as search,
 *         and a new text starts again at page 1.
 * toolbar: what else stands above the table; given as an array, it shares one row with the
 *          search box.
 * Returns {el, reload({resetPage})}.
 */
export function dataTable({ columns, load, pageSize = 15, sort = "", empty, label, search = null, toolbar = null }) {
  const state = { page: 1, pageSize, sort, total: 0, search: "" };
  let generation = 0;
  const thead = h("thead");
  const tbody = h("tbody");
  const footer = h("div", { class: "table-footer" });
  const table = h("table", { class: "table", "aria-label": label }, thead, tbody);
  const searchInput =
    search &&
    searchBox({
      placeholder: search,
      onSearch: (text) => {
        state.search = text;
        go(1);
      },
    });
  const tools = Array.isArray(toolbar) ? h("div", { class: "toolbar-row" }, searchInput, toolbar) : searchInput || toolbar;
  const el = h("div", { class: "table-wrap" }, tools && h("div", { class: "table-toolbar" }, tools), h("div", { class: "table-scroll" }, table), footer);

  function sortState(column) {
    if (!column.sort) return null;
    if (state.sort === column.sort) return "ascending";
    if (state.sort === `-${column.sort}`) return "descending";
    return "none";
  }

  function renderHead() {
    mount(
      thead,
      h(
        "tr",
        null,
        columns.map((column) => {
          const current = sortState(column);
          if (!current) return h("th", { scope: "col", class: column.className }, column.label);
          const next = current === "ascending" ? `-${column.sort}` : column.sort;
          return h(
            "th",
            { scope: "col", class: column.className, "aria-sort": current },
            h(
              "button",
              {
                type: "button",
                class: ["sort", current !== "none" && "sorted"],
                onClick: () => {
                  state.sort = next;
                  state.page = 1;
                  refresh();
                },
              },
              column.label,
              icon(current === "ascending" ? "chevronUp" : "chevronDown", { size: 12 }),
            ),
          );
        }),
      ),
    );
  }

  function renderFooter() {
    const pages = Math.max(1, Math.ceil(state.total / state.pageSize));
    const first = state.total === 0 ? 0 : (state.page - 1) * state.pageSize + 1;
    const last = Math.min(state.total, state.page * state.pageSize);
    const sizeSelect = h(
      "select",
      {
        "aria-label": t("table.pageSize"),
        onChange: (event) => {
          state.pageSize = Number(event.target.value);
          state.page = 1;
          refresh();
        },
      },
      PAGE_SIZES.map((size) => h("option", { value: size, selected: size === state.pageSize }, String(size))),
    );
    mount(
      footer,
      h("span", { class: "table-range" }, t("table.range", { first, last, total: state.total })),
      h("label", { class: "table-size" }, h("span", null, t("table.perPage")), sizeSelect),
      h(
        "div",
        { class: "pager" },
        button({ iconName: "chevronLeft", title: t("table.previous"), small: true, disabled: state.page <= 1, onClick: () => go(state.page - 1) }),
        h("span", { class: "pager-text" }, t("table.page", { page: state.page, pages })),
        button({ iconName: "chevronRight", title: t("table.next"), small: true, disabled: state.page >= pages, onClick: () => go(state.page + 1) }),
      ),
    );
  }

  function go(page) {
    state.page = page;
    refresh();
  }

  function messageRow(node) {
    return h("tr", { class: "message-row" }, h("td", { colspan: columns.length }, node));
  }

  async function refresh() {
    const mine = ++generation;
    renderHead();
    table.setAttribute("aria-busy", "true");
    el.classList.add("is-loading");
    try {
      const { items, total } = await load({ page: state.page, pageSize: state.pageSize, sort: state.sort, search: state.search });
      if (mine !== generation) return; // a newer request superseded this one
      // A delete may leave the last page empty: step back instead of showing nothing.
      if (items.length === 0 && total > 0 && state.page > 1) {
        state.page = Math.max(1, Math.ceil(total / state.pageSize));
        return refresh();
      }
      state.total = total;
      mount(
        tbody,
        items.length === 0
          ? messageRow(h("div", { class: "table-empty" }, empty || t("table.empty")))
          : items.map((row) => h("tr", null, columns.map((column) => h("td", { class: column.className, "data-label": typeof column.label === "string" ? column.label : null }, column.render ? column.render(row) : row[column.key] ?? "—")))),
      );
    } catch (error) {
      if (mine !== generation) return;
      state.total = 0;
      mount(tbody, messageRow(h("div", { class: "table-error" }, alertBox(error.message), button({ label: t("common.retry"), iconName: "refresh", small: true, onClick: refresh }))));
      if (error.status === undefined) throw error; // a programming error, not an API answer
    } finally {
      if (mine === generation) {
        table.removeAttribute("aria-busy");
        el.classList.remove("is-loading");
        renderFooter();
      }
    }
  }

  refresh();
  return {
    el,
    reload({ resetPage = false } = {}) {
      if (resetPage) state.page = 1;
      return refresh();
    },
  };
}

/** The last column of a list: the row's action buttons, under a heading only screen readers read. */
export function actionsColumn(render) {
  return { key: "actions", label: h("span", { class: "sr-only" }, t("common.actions")), className: "actions", render };
}

/**
 * A load() over a list held in the browser, for APIs without paging: sorts and slices it.
 * fetchAll receives load()'s arguments (the search text, for one).
 */
export function localSource(fetchAll) {
  return async (params) => {
    const { page, pageSize, sort } = params;
    const items = [...(await fetchAll(params))];
    if (sort) {
      const key = sort.replace(/^-/, "");
      const direction = sort.startsWith("-") ? -1 : 1;
      items.sort((a, b) => {
        const left = a[key] ?? "";
        const right = b[key] ?? "";
        if (typeof left === "number" && typeof right === "number") return (left - right) * direction;
        return String(left).localeCompare(String(right)) * direction;
      });
    }
    return { items: items.slice((page - 1) * pageSize, page * pageSize), total: items.length };
  };
}
