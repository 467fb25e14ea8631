// Pictures: the quota usage bar and a grouped bar chart drawn as SVG (no library, no canvas).

import { h, svg } from "./dom.js";
import { bytes } from "./format.js";
import { t } from "./i18n.js";

/** Used storage against the hard limit; hard < 0 means unlimited (Harbor's -1). */
export function usageBar(used, hard) {
  const unlimited = hard === undefined || hard === null || Number(hard) < 0;
  const ratio = unlimited || Number(hard) === 0 ? 0 : Math.min(1, Number(used) / Number(hard));
  const percent = Math.round(ratio * 100);
  const level = ratio >= 0.9 ? "danger" : ratio >= 0.7 ? "warn" : "ok";
  const fill = h("div", { class: ["usage-fill", `usage-${level}`] });
  // Width through the CSSOM: allowed by the CSP, unlike a style="" attribute.
  fill.style.width = `${unlimited ? 0 : Math.max(percent, used > 0 ? 1 : 0)}%`;
  const text = unlimited ? t("quota.usedUnlimited", { used: bytes(used) }) : t("quota.usedOf", { used: bytes(used), hard: bytes(hard), percent });
  return h(
    "div",
    { class: "usage" },
    h("div", { class: ["usage-track", unlimited && "usage-unlimited"], role: "progressbar", "aria-label": text, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": unlimited ? null : percent }, fill),
    h("div", { class: "usage-text" }, text),
  );
}

function niceStep(max, ticks) {
  const raw = Math.max(1, max) / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return Math.max(1, step);
}

/**
 * Grouped bars: labels along x (one group each), one bar per series in each group.
 * series: [{name, values: [numbers], className}]. Returns a figure with the SVG and a legend.
 */
export function barChart({ labels, series, title, width = 760, height = 220 }) {
  const margin = { top: 14, right: 12, bottom: 30, left: 44 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const step = niceStep(max, 4);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const y = (value) => margin.top + plotH - (value / top) * plotH;
  const groupW = plotW / Math.max(1, labels.length);
  const barW = Math.max(2, Math.min(18, (groupW * 0.7) / series.length));
  // Roughly one date label per 70 pixels, so labels never overlap.
  const labelEvery = Math.max(1, Math.ceil(labels.length / Math.max(2, Math.floor(plotW / 70))));

  const grid = [];
  for (let value = 0; value <= top; value += step) {
    grid.push(svg("line", { class: "chart-grid", x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value) }));
    grid.push(svg("text", { class: "chart-axis", x: margin.left - 8, y: y(value) + 4, "text-anchor": "end" }, String(value)));
  }
  const bars = labels.map((label, i) => {
    const groupX = margin.left + i * groupW + (groupW - barW * series.length) / 2;
    return svg(
      "g",
      null,
      series.map((s, j) => {
        const value = s.values[i] || 0;
        return svg(
          "rect",
          { class: ["chart-bar", s.className], x: groupX + j * barW, y: y(value), width: Math.max(1, barW - 1), height: Math.max(0, margin.top + plotH - y(value)), rx: 1.5 },
          svg("title", null, `${s.name} · ${label}: ${value}`),
        );
      }),
      i % labelEvery === 0 ? svg("text", { class: "chart-axis", x: margin.left + i * groupW + groupW / 2, y: height - 10, "text-anchor": "middle" }, label) : null,
    );
  });
  const totals = series.map((s) => `${s.name}: ${s.values.reduce((a, b) => a + b, 0)}`).join(", ");
  return h(
    "figure",
    { class: "chart" },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart-svg", role: "img", "aria-label": `${title}. ${totals}`, preserveAspectRatio: "xMidYMid meet" }, grid, bars),
    h("figcaption", { class: "chart-legend" }, series.map((s) => h("span", { class: "legend-item" }, h("span", { class: ["legend-swatch", s.className], "aria-hidden": "true" }), `${s.name} (${s.values.reduce((a, b) => a + b, 0)})`))),
  );
}
