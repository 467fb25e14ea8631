// A tiny history-API router with Harbor's URL shapes ("/harbor/projects/:id/repositories").
//
// Routes are matched in the order they were added; ":name" matches one path segment (decoded).
// Clicks on same-origin links are handled here so the page never reloads, and each page
// module is imported only when first visited.

const routes = [];
let onChange = null;

/** Register a page: load() imports its module; options are passed to the renderer. */
export function route(pattern, load, options = {}) {
  const keys = [];
  const source = pattern
    .split("/")
    .map((part) => {
      if (!part.startsWith(":")) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      keys.push(part.slice(1));
      return "([^/]+)";
    })
    .join("/");
  routes.push({ pattern, regex: new RegExp(`^${source}/?$`), keys, load, options });
}

/** The route matching ``path`` with its decoded parameters, or null. */
export function match(path) {
  for (const candidate of routes) {
    const found = candidate.regex.exec(path);
    if (found) {
      const params = {};
      candidate.keys.forEach((key, i) => {
        params[key] = decodeURIComponent(found[i + 1]);
      });
      return { ...candidate, params };
    }
  }
  return null;
}

export function navigate(url, { replace = false } = {}) {
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  return render();
}

/** Draw the current URL again (after a language switch, for instance). */
export function refresh() {
  return render();
}

function render() {
  const url = new URL(window.location.href);
  return onChange(url.pathname, url.searchParams);
}

function onLinkClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download") || link.dataset.external !== undefined) return;
  const url = new URL(link.href);
  if (url.origin !== window.location.origin || !match(url.pathname)) return;
  event.preventDefault();
  if (url.pathname + url.search !== window.location.pathname + window.location.search) navigate(url.pathname + url.search);
}

/** Start routing: ``handler(pathname, searchParams)`` draws the page for each URL. */
export function start(handler) {
  onChange = handler;
  document.addEventListener("click", onLinkClick);
  window.addEventListener("popstate", render);
  return render();
}
