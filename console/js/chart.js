// A small hand-written SVG line chart (no library): cumulative counts over time, one line per
// series, with a legend, a text description for screen readers and the numbers in a table.

import { h, s, table, uid } from "./dom.js";
import { bucketName, num, tick } from "./format.js";

const W = 640;
const H = 240;
const M = { left: 48, right: 16, top: 14, bottom: 30 };

function niceStep(max, ticks = 4) {
  const raw = Math.max(1, max) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((v) => v >= raw) || 10 * power;
  return Math.max(1, step);
}

/**
 * timeline: the /v1/campaigns/{id}/timeline answer; series: [{key, label, className}].
 * Returns a <figure> (or a short paragraph when there is nothing to draw yet).
 */
export function lineChart({ title, timeline, series, untimedLabel, emptyText = "Nothing yet" }) {
  const points = timeline.points || [];
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  if (!points.length) {
    return h("figure", { class: "chart" }, h("figcaption", { id: titleId }, title),
             h("p", { class: "empty" }, "Nothing to chart yet: the chart starts when the campaign sends."));
  }
  const size = Number(timeline.bucket_seconds) * 1000;
  const start = Date.parse(points[0].at);
  const end = Date.parse(points[points.length - 1].at) + size;
  const lines = series.map((sr) => {
    let total = 0;
    const xy = [[start, 0]];
    for (const p of points) {
      total += Number(p[sr.key]) || 0;
      xy.push([Date.parse(p.at) + size, total]);
    }
    return { ...sr, xy, total };
  });
  const top = Math.max(1, ...lines.map((l) => l.total));
  const step = niceStep(top);
  const yMax = Math.ceil(top / step) * step;
  const x = (t) => M.left + ((t - start) / Math.max(1, end - start)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);

  const grid = [];
  for (let v = 0; v <= yMax; v += step) {
    grid.push(s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "grid" }),
              s("text", { x: M.left - 6, y: y(v) + 4, class: "axis-label", "text-anchor": "end" }, num(v)));
  }
  const spanSeconds = (end - start) / 1000;
  const xTicks = Math.min(5, points.length);
  for (let i = 0; i <= xTicks; i += 1) {
    const t = start + ((end - start) * i) / xTicks;
    const anchor = i === 0 ? "start" : i === xTicks ? "end" : "middle";
    grid.push(s("text", { x: x(t), y: H - 8, class: "axis-label", "text-anchor": anchor }, tick(t, spanSeconds)));
  }
  const paths = lines.map((l) => s("path", {
    d: l.xy.map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
    class: `line ${l.className}`, "data-series": l.key,
  }));
  const description = `${title}, cumulative, from ${tick(start, spanSeconds)} to ${tick(end, spanSeconds)}: `
    + lines.map((l) => `${l.label} ${num(l.total)}`).join(", ") + ".";
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${titleId} ${descId}`,
                         class: "chart-svg" },
    s("title", {}, title), s("desc", { id: descId }, description),
    s("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: "axis" }),
    s("line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: "axis" }),
    ...grid, ...paths,
    lines.every((l) => l.total === 0)
      ? s("text", { x: (M.left + W - M.right) / 2, y: (M.top + H - M.bottom) / 2, class: "chart-empty",
                    "text-anchor": "middle" }, emptyText)
      : null);
  const untimed = lines.map((l) => [l, Number(timeline.untimed?.[l.key]) || 0]).filter(([, n]) => n > 0);
  const rows = points.filter((p) => series.some((sr) => Number(p[sr.key])));
  return h("figure", { class: "chart" },
    h("figcaption", { id: titleId }, title),
    svg,
    h("ul", { class: "legend" }, lines.map((l) => h("li", {},
      h("span", { class: `swatch ${l.className}`, "aria-hidden": "true" }), `${l.label}: ${num(l.total)}`))),
    untimed.length ? h("p", { class: "hint" },
      untimed.map(([l, n]) => `${num(n)} ${l.label.toLowerCase()} ${untimedLabel || "have no time stored"}`).join("; ")
      + ", so they are counted above the chart but not in it.") : null,
    h("details", {}, h("summary", {}, `${title}: the numbers`), table({
      caption: `${title} per ${bucketName(timeline.bucket_seconds)}`,
      columns: [
        { label: "From", cell: (p) => new Date(Date.parse(p.at)).toLocaleString() },
        ...series.map((sr) => ({ label: sr.label, class: "num", cell: (p) => num(p[sr.key]) })),
      ],
      rows,
      empty: "Nothing happened yet.",
    })));
}
