// Safe DOM building: every page is made of nodes created here, never of HTML strings.
//
// h("a", {href: "/x", class: "link", onClick: fn}, "text", child) creates an element. Strings
// become text nodes, so data from the server can never turn into markup. Attributes that could
// run code (on* strings, style, srcdoc) are refused, and links only take same-origin paths or
// http(s) URLs, so a script URL is dropped.

const SVG_NS = "http://www.w3.org/2000/svg";
const FORBIDDEN_ATTRS = new Set(["style", "srcdoc", "innerhtml", "outerhtml"]);
const URL_ATTRS = new Set(["href", "src", "action", "formaction", "xlink:href"]);

function safeUrl(value) {
  const text = String(value);
  if (text.startsWith("/") && !text.startsWith("//")) return text;
  if (text.startsWith("#") || text.startsWith("?")) return text;
  try {
    const url = new URL(text, window.location.origin);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function applyProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "dataset") {
      for (const [name, data] of Object.entries(value)) el.dataset[name] = String(data);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else if (key === "checked" || key === "disabled" || key === "selected") {
      el[key] = Boolean(value);
    } else {
      const name = key.toLowerCase();
      if (FORBIDDEN_ATTRS.has(name) || name.startsWith("on")) {
        throw new Error(`refusing attribute ${key}`);
      }
      if (URL_ATTRS.has(name)) {
        const url = safeUrl(value);
        if (url !== null) el.setAttribute(key, url);
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** An HTML element with properties and children (strings are always text). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

/** An SVG element; attributes are set verbatim (numbers, paths) through the same guards. */
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

/** Replace every child of ``el`` with ``children``. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
