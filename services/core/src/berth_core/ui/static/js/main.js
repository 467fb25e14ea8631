// Entry point: the route table, the sign-in guard, the frame, and session-timeout handling.

import { onUnauthorized } from "./api.js";
import { openChangePassword, openProfile } from "./account.js";
import { alertBox } from "./components.js";
import { h, mount } from "./dom.js";
import { initLanguage, setLanguage, t } from "./i18n.js";
import { appLayout, authLayout } from "./layout.js";
import { match, navigate, refresh, route, start } from "./router.js";
import { isAdmin, loadSession, session, signOut } from "./session.js";

const HOME = "/harbor/projects";
const SIGN_IN = "/account/sign-in";

// Harbor's portal URLs. "nav" marks the navigation entry to highlight; "admin" pages are for
// system administrators (the API refuses everyone else anyway); "public" pages need no session.
route(SIGN_IN, () => import("./pages/sign-in.js"), { public: true });
route("/account/sign-up", () => import("./pages/sign-up.js"), { public: true });
route("/harbor/dashboard", () => import("./pages/dashboard.js"), { nav: "dashboard" });
route("/harbor/projects", () => import("./pages/projects.js"), { nav: "projects" });
route("/harbor/projects/:id", () => import("./pages/project.js"), { nav: "projects" });
route("/harbor/projects/:id/:tab", () => import("./pages/project.js"), { nav: "projects" });
route("/harbor/projects/:id/repositories/:repo", () => import("./pages/repository.js"), { nav: "projects" });
route("/harbor/projects/:id/repositories/:repo/artifacts-tab", () => import("./pages/repository.js"), { nav: "projects" });
route("/harbor/projects/:id/repositories/:repo/artifacts-tab/artifacts/:digest", () => import("./pages/artifact.js"), { nav: "projects" });
route("/harbor/users", () => import("./pages/users.js"), { nav: "users", admin: true });
route("/harbor/robot-accounts", () => import("./pages/robots.js"), { nav: "robots", admin: true });
route("/harbor/logs", () => import("./pages/logs.js"), { nav: "logs", admin: true });
route("/harbor/job-service-dashboard", () => import("./pages/jobs.js"), { nav: "jobs", admin: true });
route("/harbor/clearing-job", () => import("./pages/cleanup.js"), { nav: "gc", admin: true });
route("/harbor/configs", () => import("./pages/configs.js"), { nav: "configs", admin: true });
route("/harbor/system", () => import("./pages/system.js"), { nav: "system", admin: true });

const app = document.getElementById("app");
let frame = null;
let frameKey = "";
let generation = 0;

function frameFor(isPublic) {
  const key = `${isPublic ? "auth" : "app"}|${session.user?.username || ""}|${session.user?.sysadmin_flag}|${document.documentElement.lang}`;
  if (key !== frameKey) {
    frame = isPublic
      ? authLayout(changeLanguage)
      : appLayout({ onLanguage: changeLanguage, onSignOut: doSignOut, onProfile: openProfile, onPassword: openChangePassword });
    frameKey = key;
    mount(app, frame.el);
  }
  return frame;
}

async function changeLanguage(code) {
  await setLanguage(code);
  frameKey = "";
  await refresh();
}

async function doSignOut() {
  await signOut();
  await initLanguage(null);
  await navigate(SIGN_IN);
}

function signInUrl() {
  const here = window.location.pathname + window.location.search;
  return here.startsWith("/harbor") ? `${SIGN_IN}?redirect_url=${encodeURIComponent(here)}` : SIGN_IN;
}

async function loadPage(found) {
  try {
    return await found.load();
  } catch (error) {
    // After an upgrade the old asset version is gone: load the new shell once.
    if (!sessionStorage.getItem("berth.reloaded")) {
      sessionStorage.setItem("berth.reloaded", "1");
      window.location.reload();
    }
    throw error;
  }
}

async function show(pathname, query) {
  const mine = ++generation;
  if (pathname === "/" || pathname === "/harbor" || pathname === "/harbor/") {
    return navigate(session.user ? HOME : SIGN_IN, { replace: true });
  }
  const found = match(pathname);
  const isPublic = Boolean(found?.options.public);
  if (!isPublic && !session.user) return navigate(signInUrl(), { replace: true });
  if (pathname === SIGN_IN && session.user) return navigate(HOME, { replace: true });

  const current = frameFor(isPublic);
  current.setActive(found?.options.nav);
  const page = h("div", { class: "page" });
  mount(current.main, page);
  // Busy until the page has drawn (tests and assistive technology wait for this).
  app.setAttribute("aria-busy", "true");
  const ctx = {
    params: found?.params || {},
    query,
    isCurrent: () => mine === generation,
    setTitle: (title) => {
      document.title = title ? `${title} · Berth` : "Berth";
    },
  };
  try {
    if (!found) {
      ctx.setTitle(t("notFound.title"));
      mount(page, h("div", { class: "unavailable" }, h("h1", null, t("notFound.title")), h("p", null, t("notFound.text")), h("a", { href: HOME, class: "btn btn-primary" }, t("notFound.home"))));
      return;
    }
    if (found.options.admin && !isAdmin()) {
      ctx.setTitle(t("forbidden.title"));
      mount(page, h("div", { class: "unavailable" }, h("h1", null, t("forbidden.title")), h("p", null, t("forbidden.text"))));
      return;
    }
    const module = await loadPage(found);
    sessionStorage.removeItem("berth.reloaded");
    if (mine !== generation) return;
    await module.render(page, ctx);
  } catch (error) {
    if (error.status === 401) return; // the unauthorized handler takes the user to sign-in
    if (mine === generation) mount(page, alertBox(error.message || String(error)));
    if (error.status === undefined) throw error;
  } finally {
    if (mine === generation) app.removeAttribute("aria-busy");
  }
}

// A 401 while signed in: the session timed out or was revoked. Back to sign-in, then here.
let expiring = false;
onUnauthorized(async () => {
  if (!session.user || expiring) return;
  expiring = true;
  const target = signInUrl();
  session.user = null;
  session.expired = true; // the sign-in page says why the user is back there
  await initLanguage(null);
  await navigate(target, { replace: true });
  expiring = false;
});

async function boot() {
  await initLanguage(null);
  try {
    await loadSession();
  } catch (error) {
    mount(app, alertBox(error.message));
    return;
  }
  if (session.user) await initLanguage(session.user.username);
  await start(show);
}

boot();
