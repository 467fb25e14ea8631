// Line icons drawn as inline SVG (24x24, stroke = currentColor), so they follow text colour.

import { svg } from "./dom.js";

// Each icon is a list of SVG children: [tag, attributes].
const ICONS = {
  dashboard: [["rect", { x: 3, y: 3, width: 7, height: 9, rx: 1 }], ["rect", { x: 14, y: 3, width: 7, height: 5, rx: 1 }], ["rect", { x: 14, y: 12, width: 7, height: 9, rx: 1 }], ["rect", { x: 3, y: 16, width: 7, height: 5, rx: 1 }]],
  projects: [["path", { d: "M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" }]],
  repository: [["path", { d: "M21 8l-9-5-9 5 9 5 9-5z" }], ["path", { d: "M3 8v8l9 5 9-5V8" }], ["path", { d: "M12 13v8" }]],
  users: [["circle", { cx: 9, cy: 8, r: 3.5 }], ["path", { d: "M2.5 20c.8-3.6 3.4-5.5 6.5-5.5s5.7 1.9 6.5 5.5" }], ["path", { d: "M16 4.6a3.5 3.5 0 0 1 0 6.8" }], ["path", { d: "M18 14.8c1.8.7 3 2.4 3.5 5.2" }]],
  user: [["circle", { cx: 12, cy: 8, r: 4 }], ["path", { d: "M4 21c1-4.2 4-6.5 8-6.5s7 2.3 8 6.5" }]],
  robot: [["rect", { x: 4, y: 8, width: 16, height: 12, rx: 2 }], ["path", { d: "M12 4v4" }], ["circle", { cx: 12, cy: 3, r: 1 }], ["circle", { cx: 9, cy: 13, r: 1.2 }], ["circle", { cx: 15, cy: 13, r: 1.2 }], ["path", { d: "M9 17h6" }]],
  settings: [["circle", { cx: 12, cy: 12, r: 3 }], ["path", { d: "M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z" }]],
  logs: [["path", { d: "M8 6h13M8 12h13M8 18h13" }], ["path", { d: "M3 6h.01M3 12h.01M3 18h.01" }]],
  jobs: [["path", { d: "M22 12h-4l-3 9L9 3l-3 9H2" }]],
  health: [["path", { d: "M20.8 4.6a5.5 5.5 0 0 0-7.8 0L12 5.7l-1-1.1a5.5 5.5 0 0 0-7.8 7.8l1 1.1L12 21l7.8-7.5 1-1.1a5.5 5.5 0 0 0 0-7.8z" }]],
  trash: [["path", { d: "M3 6h18" }], ["path", { d: "M8 6V4h8v2" }], ["path", { d: "M19 6l-1 14H6L5 6" }], ["path", { d: "M10 11v6M14 11v6" }]],
  plus: [["path", { d: "M12 5v14M5 12h14" }]],
  copy: [["rect", { x: 9, y: 9, width: 12, height: 12, rx: 2 }], ["path", { d: "M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1" }]],
  search: [["circle", { cx: 11, cy: 11, r: 7 }], ["path", { d: "M21 21l-4.3-4.3" }]],
  chevronLeft: [["path", { d: "M15 18l-6-6 6-6" }]],
  chevronRight: [["path", { d: "M9 18l6-6-6-6" }]],
  chevronDown: [["path", { d: "M6 9l6 6 6-6" }]],
  chevronUp: [["path", { d: "M6 15l6-6 6 6" }]],
  logout: [["path", { d: "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4" }], ["path", { d: "M16 17l5-5-5-5M21 12H9" }]],
  key: [["circle", { cx: 7.5, cy: 15.5, r: 4.5 }], ["path", { d: "M10.7 12.3L21 2M16 7l3 3M18.5 4.5l2 2" }]],
  globe: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M3 12h18" }], ["path", { d: "M12 3a14 14 0 0 1 0 18a14 14 0 0 1 0-18z" }]],
  lock: [["rect", { x: 4, y: 11, width: 16, height: 10, rx: 2 }], ["path", { d: "M8 11V7a4 4 0 0 1 8 0v4" }]],
  unlock: [["rect", { x: 4, y: 11, width: 16, height: 10, rx: 2 }], ["path", { d: "M8 11V7a4 4 0 0 1 7.8-1.2" }]],
  check: [["path", { d: "M20 6L9 17l-5-5" }]],
  close: [["path", { d: "M18 6L6 18M6 6l12 12" }]],
  alert: [["path", { d: "M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z" }], ["path", { d: "M12 9v4M12 17h.01" }]],
  info: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M12 16v-4M12 8h.01" }]],
  menu: [["path", { d: "M3 6h18M3 12h18M3 18h18" }]],
  refresh: [["path", { d: "M21 12a9 9 0 0 1-15.5 6.2L3 16" }], ["path", { d: "M3 12a9 9 0 0 1 15.5-6.2L21 8" }], ["path", { d: "M21 3v5h-5M3 21v-5h5" }]],
  tag: [["path", { d: "M20.6 13.4l-7.2 7.2a2 2 0 0 1-2.8 0L2 12V2h10l8.6 8.6a2 2 0 0 1 0 2.8z" }], ["circle", { cx: 7, cy: 7, r: 1.5 }]],
  webhook: [["path", { d: "M10 13a5 5 0 0 0 7.5.5l3-3a5 5 0 0 0-7-7l-1.8 1.7" }], ["path", { d: "M14 11a5 5 0 0 0-7.5-.5l-3 3a5 5 0 0 0 7 7l1.7-1.7" }]],
  server: [["rect", { x: 3, y: 3, width: 18, height: 7, rx: 2 }], ["rect", { x: 3, y: 14, width: 18, height: 7, rx: 2 }], ["path", { d: "M7 6.5h.01M7 17.5h.01" }]],
  broom: [["path", { d: "M14 4l6 6" }], ["path", { d: "M17 7L9 15" }], ["path", { d: "M9 15l-5 5h6l3-3z" }]],
  book: [["path", { d: "M4 19.5A2.5 2.5 0 0 1 6.5 17H20V3H6.5A2.5 2.5 0 0 0 4 5.5z" }], ["path", { d: "M4 19.5A2.5 2.5 0 0 0 6.5 22H20v-5" }]],
};

/** An icon by name; decorative (hidden from screen readers) unless a label is given. */
export function icon(name, { label = null, size = 18 } = {}) {
  const parts = (ICONS[name] || ICONS.info).map(([tag, attrs]) => svg(tag, attrs));
  const props = {
    class: `icon icon-${name}`,
    viewBox: "0 0 24 24",
    width: size,
    height: size,
    fill: "none",
    stroke: "currentColor",
    "stroke-width": 1.8,
    "stroke-linecap": "round",
    "stroke-linejoin": "round",
    focusable: "false",
  };
  if (label) {
    props.role = "img";
    props["aria-label"] = label;
  } else {
    props["aria-hidden"] = "true";
  }
  return svg("svg", props, ...parts);
}
