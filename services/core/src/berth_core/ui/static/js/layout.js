// The frame around every signed-in page: a top bar (brand, language switch, user menu) and
// a left navigation whose Administration group only system administrators see. On a narrow
// screen the navigation slides in from the menu button.

import { h } from "./dom.js";
import { LANGUAGES, currentLanguage, t } from "./i18n.js";
import { icon } from "./icons.js";
import { dropdown } from "./components.js";
import { isAdmin, session } from "./session.js";

const BRAND = "Berth";

function brand() {
  return h("a", { href: "/harbor/projects", class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, icon("repository", { size: 20 })), h("span", { class: "brand-name" }, BRAND));
}

/** The language menu, shown on every page including sign-in. */
export function languageMenu(onLanguage) {
  const current = LANGUAGES.find((lang) => lang.code === currentLanguage()) || LANGUAGES[0];
  return dropdown({
    label: current.label,
    iconName: "globe",
    className: "language-menu",
    items: LANGUAGES.map((lang) => ({ label: lang.label, active: lang.code === current.code, onClick: () => onLanguage(lang.code) })),
  });
}

function navLink(item, active) {
  return h("a", { href: item.href, class: ["nav-link", active === item.id && "active"], "aria-current": active === item.id ? "page" : null, dataset: { nav: item.id } }, icon(item.icon), h("span", null, t(item.label)));
}

const MAIN_NAV = [
  { id: "dashboard", href: "/harbor/dashboard", icon: "dashboard", label: "nav.dashboard" },
  { id: "projects", href: "/harbor/projects", icon: "projects", label: "nav.projects" },
];
const ADMIN_NAV = [
  { id: "users", href: "/harbor/users", icon: "users", label: "nav.users" },
  { id: "robots", href: "/harbor/robot-accounts", icon: "robot", label: "nav.robots" },
  { id: "logs", href: "/harbor/logs", icon: "logs", label: "nav.logs" },
  { id: "jobs", href: "/harbor/job-service-dashboard", icon: "jobs", label: "nav.jobs" },
  { id: "gc", href: "/harbor/clearing-job", icon: "broom", label: "nav.cleanup" },
  { id: "configs", href: "/harbor/configs", icon: "settings", label: "nav.configuration" },
  { id: "system", href: "/harbor/system", icon: "server", label: "nav.system" },
];

/**
 * Build the signed-in frame. handlers: {onLanguage(code), onSignOut(), onProfile(),
 * onPassword()}. Returns {el, main, setActive(navId)}.
 */
export function appLayout(handlers) {
  const main = h("main", { class: "content", id: "main", tabindex: "-1" });
  const nav = h(
    "nav",
    { class: "sidenav", "aria-label": t("nav.label") },
    h("div", { class: "nav-group" }, MAIN_NAV.map((item) => navLink(item, null))),
    isAdmin() && h("div", { class: "nav-group", dataset: { group: "admin" } }, h("div", { class: "nav-heading" }, t("nav.administration")), ADMIN_NAV.map((item) => navLink(item, null))),
    h("div", { class: "nav-footer" }, h("a", { href: "/devcenter-api-2.0", class: "nav-link subtle", "data-external": "" }, icon("book"), h("span", null, t("nav.api")))),
  );
  const closeNav = () => el.classList.remove("nav-open");
  nav.addEventListener("click", (event) => {
    if (event.target.closest("a")) closeNav();
  });
  const username = session.user?.username || "";
  const userMenu = dropdown({
    label: username,
    iconName: "user",
    className: "user-menu",
    items: [
      { label: t("account.profile"), iconName: "user", onClick: handlers.onProfile },
      session.info.auth_mode === "db_auth" || username === "admin" ? { label: t("account.changePassword"), iconName: "key", onClick: handlers.onPassword } : null,
      { label: t("account.signOut"), iconName: "logout", onClick: handlers.onSignOut },
    ],
  });
  const topbar = h(
    "header",
    { class: "topbar" },
    h("button", { type: "button", class: "btn btn-ghost nav-toggle", "aria-label": t("nav.toggle"), onClick: () => el.classList.toggle("nav-open") }, icon("menu")),
    brand(),
    h("div", { class: "topbar-spacer" }),
    isAdmin() && h("span", { class: "admin-pill" }, t("account.adminBadge")),
    languageMenu(handlers.onLanguage),
    userMenu,
  );
  const el = h("div", { class: "shell" }, h("a", { href: "#main", class: "skip-link", "data-external": "" }, t("nav.skip")), topbar, h("div", { class: "frame" }, nav, h("div", { class: "nav-backdrop", onClick: closeNav }), main));
  return {
    el,
    main,
    setActive(navId) {
      nav.querySelectorAll(".nav-link").forEach((link) => {
        const active = link.dataset.nav === navId;
        link.classList.toggle("active", active);
        if (active) link.setAttribute("aria-current", "page");
        else link.removeAttribute("aria-current");
      });
    },
  };
}

/** The frame of the sign-in and sign-up pages: a centred card on a quiet background. */
export function authLayout(onLanguage) {
  const main = h("main", { class: "auth-main", id: "main" });
  const el = h("div", { class: "auth-shell" }, h("header", { class: "auth-top" }, brand(), h("div", { class: "topbar-spacer" }), languageMenu(onLanguage)), main, h("footer", { class: "auth-footer" }, t("auth.footer")));
  return { el, main, setActive() {} };
}
