// The time-series chart (uPlot, vendored): one line per series, a legend that shows the values
// under the cursor, and drag-to-zoom, which asks for the selected range.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { formatTime } from "./time.js";

// Ten hues that stay readable on the light and the dark background.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#bab0ac"];
export const MAX_SERIES = 50;

let chart = null;
let shown = null;

/**
 * Draw `data` ({x: [ms...], series: [{label, values}], points}) into `el`, replacing any chart.
 * `onZoom(startMs, endMs)` is called when the user drags across a range.
 */
export function draw(el, data, onZoom) {
  destroy();
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue("--fg-muted").trim() || "#666";
  shown = { data, axis: fg };
  const grid = css.getPropertyValue("--grid").trim() || "#ddd";
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const opts = {
    width: Math.max(el.clientWidth, 300),
    height: 320,
    ms: 1, // x values are the API's epoch milliseconds, unchanged
    cursor: { drag: { x: true, y: false, setScale: false } },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [{ ...axis }, { ...axis, size: 70 }],
    series: [
      { label: "time", value: (u, v) => (v == null ? "—" : formatTime(v)) },
      ...data.series.map((s, i) => ({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: true,
        points: { show: data.points, size: 5 },
        value: (u, v) => (v == null ? "—" : String(v)),
      })),
    ],
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width < 3) return;
          const start = Math.floor(u.posToVal(u.select.left, "x"));
          const end = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          if (end > start) onZoom(start, end);
        },
      ],
    },
  };
  chart = new uPlot(opts, [data.x, ...data.series.map((s) => s.values)], el);
  return chart;
}

export function resize(el) {
  if (chart) chart.setSize({ width: Math.max(el.clientWidth, 300), height: 320 });
}

export function destroy() {
  if (chart) chart.destroy();
  chart = null;
  shown = null;
}

/** What the chart shows: labels, the x and y arrays handed to uPlot, the axis colour. */
export function snapshot() {
  if (!chart || !shown) return null;
  return {
    labels: chart.series.slice(1).map((s) => s.label),
    x: [...chart.data[0]],
    ys: chart.data.slice(1).map((ys) => [...ys]),
    axis: shown.axis,
  };
}

/** Page coordinates of the point (x, first series' y) on the chart, for pointing at it. */
export function pointAt(xMs) {
  if (!chart) return null;
  const box = chart.over.getBoundingClientRect();
  return { x: box.left + chart.valToPos(xMs, "x"), y: box.top + box.height / 2 };
}
