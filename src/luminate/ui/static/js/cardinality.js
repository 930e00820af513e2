// Cardinality: the tenant's series against its limit, its top metrics and dimension keys, and
// which keys and metrics grow (distinct values first seen in the last window, compared with the
// window before it, from two answers of /api/v1/cardinality).
import { api } from "./api.js";
import { fill, formatCount, h } from "./dom.js";
import { durationMs } from "./time.js";
import { toParams, defaults } from "./view-state.js";

const WINDOWS = [["all", "everything stored"], ["1h", "the last hour"], ["24h", "the last 24 hours"],
  ["7d", "the last 7 days"]];
const GROWTH = [["1h", "hour"], ["6h", "6 hours"], ["24h", "24 hours"]];
const TOP = 10;
// Enough rows that every key or metric of a tenant is in both answers compared for growth.
const GROWTH_ROWS = 1000;

export function exploreLink(metric) {
  const state = { ...defaults(), metric, agg: "count" };
  return `#/explore?${toParams(state)}`;
}

function percent(part, whole) {
  if (!whole) return "—";
  const p = (part / whole) * 100;
  if (p > 0 && p < 0.01) return "<0.01%";
  return `${p < 10 ? p.toFixed(2) : p.toFixed(1)}%`;
}

function errorText(error) {
  return h("div", { class: "error-box", role: "alert" },
    h("p", {}, h("code", {}, error.code), ` (HTTP ${error.status}) `, error.message));
}

export function render(main, params) {
  const win = WINDOWS.some(([w]) => w === params.get("window")) ? params.get("window") : "all";
  const grow = GROWTH.some(([w]) => w === params.get("growth")) ? params.get("growth") : "1h";
  const windowSel = h("select", { id: "card-window" },
    WINDOWS.map(([w, text]) => h("option", { value: w, selected: w === win }, text)));
  const growthSel = h("select", { id: "card-growth" },
    GROWTH.map(([w, text]) => h("option", { value: w, selected: w === grow }, `last ${text}`)));
  const refresh = h("button", { type: "submit", class: "primary" }, "Refresh");
  const usage = h("section", { class: "panel", id: "usage", "aria-labelledby": "usage-h" });
  const top = h("section", { class: "panel", id: "top", "aria-labelledby": "top-h" });
  const growth = h("section", { class: "panel", id: "growth", "aria-labelledby": "growth-h" });
  const controls = h("form", { class: "panel controls", "aria-label": "Cardinality window" },
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: windowSel.id }, "Stored series in"), windowSel),
      h("div", { class: "field" }, h("label", { for: growthSel.id }, "Growth over the"), growthSel),
      h("div", { class: "field end" }, refresh)));
  controls.addEventListener("submit", (event) => {
    event.preventDefault();
    const qs = new URLSearchParams({ window: windowSel.value, growth: growthSel.value });
    location.hash = `#/cardinality?${qs}`;
  });
  fill(main, h("div", { class: "cardinality" }, h("h1", {}, "Cardinality"), controls, usage, top, growth));

  const controller = new AbortController();
  const now = Date.now();
  const windowParams = win === "all" ? {} : { start: now - durationMs(win), end: now };
  // One request at a time: the page alone never takes more than one concurrent-query slot.
  (async () => {
    await showCurrent(usage, top, windowParams, controller.signal);
    if (controller.signal.aborted) return;
    const text = GROWTH.find(([w]) => w === grow)[1];
    await showGrowth(growth, durationMs(grow), text, now, controller.signal);
  })();
  return () => controller.abort();
}

async function showCurrent(usage, top, windowParams, signal) {
  fill(usage, h("p", { class: "hint" }, "Loading…"));
  fill(top);
  let c;
  try {
    c = await api.cardinality({ ...windowParams, limit: TOP }, signal);
  } catch (error) {
    if (error.name !== "AbortError") fill(usage, errorText(error));
    return;
  }
  const limits = c.limits ?? {};
  const used = limits.estimatedActiveSeries ?? 0;
  const max = limits.maxSeries ?? 0;
  const meter = h("meter", { id: "series-meter", min: "0", max: String(max || 1), low: String(max * 0.8),
    high: String(max * 0.95), optimum: "0", value: String(Math.min(used, max || 1)) });
  fill(usage,
    h("h2", { id: "usage-h" }, "Series in use"),
    h("p", { class: "big" },
      h("span", { id: "active-series" }, formatCount(used)), " of ",
      h("span", { id: "max-series" }, formatCount(max)), " series ",
      h("span", { id: "series-percent", class: "percent" }, `(${percent(used, max)})`)),
    h("label", { for: meter.id, class: "sr-only" }, "Series in use against the limit"), meter,
    h("dl", { class: "facts" },
      h("dt", {}, "Per-metric limit"),
      h("dd", { id: "max-series-per-metric" },
        limits.maxSeriesPerMetric ? formatCount(limits.maxSeriesPerMetric) : "off"),
      h("dt", {}, "Stored series in the chosen window"),
      h("dd", { id: "stored-series" }, formatCount(c.estimatedSeries))),
    h("p", { class: "hint" },
      "Series in use is this server's estimate of the distinct series it accepted in the current ",
      "limit window; new series past the limit are refused point by point. Stored series count ",
      "what is kept (exact for small sets)."));
  fill(top,
    h("h2", { id: "top-h" }, "Top metrics and dimension keys"),
    h("div", { class: "two" },
      tableOf("top-metrics", "Metrics by series", ["metric", "series", "share"],
        c.topMetrics.map((m) => [metricCell(m.name), formatCount(m.estimatedSeries),
          percent(m.estimatedSeries, c.estimatedSeries)])),
      tableOf("top-keys", "Dimension keys by distinct values", ["key", "distinct values"],
        c.topDimensionKeys.map((k) => [k.key, formatCount(k.estimatedDistinctValues)]))));
}

async function showGrowth(el, spanMs, spanText, now, signal) {
  fill(el, h("p", { class: "hint" }, "Loading…"));
  let both;
  try {
    const range = { start: now - 2 * spanMs, limit: GROWTH_ROWS };
    both = [
      await api.cardinality({ ...range, end: now }, signal),
      await api.cardinality({ ...range, end: now - spanMs }, signal),
    ];
  } catch (error) {
    if (error.name !== "AbortError") fill(el, errorText(error));
    return;
  }
  const [all, before] = both;
  const grew = (nowRows, beforeRows, name, count) => {
    const earlier = new Map(beforeRows.map((r) => [r[name], r[count]]));
    return nowRows.map((r) => [r[name], r[count] - (earlier.get(r[name]) ?? 0)])
      .filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]).slice(0, TOP);
  };
  const keys = grew(all.topDimensionKeys, before.topDimensionKeys, "key", "estimatedDistinctValues");
  const metrics = grew(all.topMetrics, before.topMetrics, "name", "estimatedSeries");
  fill(el,
    h("h2", { id: "growth-h" }, "What drives growth"),
    h("p", { class: "hint" }, `Distinct values and series first seen in the last ${spanText}: seen in `,
      `the last ${spanText} but not in the ${spanText} before it.`),
    h("div", { class: "two" },
      tableOf("growth-keys", `Keys by new values (last ${spanText})`, ["key", "new values"],
        keys.map(([k, d]) => [k, formatCount(d)])),
      tableOf("growth-metrics", `Metrics by new series (last ${spanText})`, ["metric", "new series"],
        metrics.map(([m, d]) => [metricCell(m), formatCount(d)]))));
}

function metricCell(name) {
  return h("a", { href: exploreLink(name), title: `Explore ${name}` }, name);
}

function tableOf(id, caption, headers, rows) {
  return h("table", { id, class: "results" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.length ? rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))
      : h("tr", {}, h("td", { colspan: String(headers.length), class: "muted" }, "none"))));
}
