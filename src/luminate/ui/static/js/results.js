// A query's answer as chart data and as a table. The table shows every row exactly as the API
// returned it (values unrounded); the chart draws the same numbers.
import { MAX_SERIES } from "./chart.js";
import { formatCount, h } from "./dom.js";
import { formatTime } from "./time.js";

const PAGE_ROWS = 500;

/** "customer_id=cust_1, endpoint=/x"; "(missing)" for a group without the key. */
export function labelOf(dims) {
  const parts = Object.entries(dims ?? {}).map(([k, v]) => `${k}=${v ?? "(missing)"}`);
  return parts.length ? parts.join(", ") : "all points";
}

/**
 * Chart data for an answer, or null when it has no time axis (an aggregate without interval).
 * {x: sorted distinct timestamps, series: [{label, values aligned to x (null where absent)}],
 *  points: draw the points (range), total: how many series existed before MAX_SERIES}
 */
export function chartData(answer) {
  const rows = answer.results;
  if (!rows.length || rows[0].timestamp === undefined) return null;
  const range = answer.queryType === "range";
  const groups = new Map();
  const stamps = new Set();
  for (const row of rows) {
    const label = labelOf(range ? row.dimensions : row.groupKey);
    if (!groups.has(label)) groups.set(label, new Map());
    const value = answer.queryType === "rate" ? row.rate : row.value;
    groups.get(label).set(row.timestamp, value);
    stamps.add(row.timestamp);
  }
  const x = [...stamps].sort((a, b) => a - b);
  const series = [...groups].slice(0, MAX_SERIES).map(([label, byTime]) => ({
    label,
    values: x.map((t) => (byTime.has(t) ? byTime.get(t) : null)),
  }));
  return { x, series, points: range, total: groups.size };
}

/** The table's columns for an answer: [header, cell(row)] pairs. */
function columns(answer, groupBy) {
  const time = ["time", (r) => h("time", { datetime: new Date(r.timestamp).toISOString(),
    title: String(r.timestamp) }, formatTime(r.timestamp))];
  const keys = groupBy.map((k) => [k, (r) => cellText(r.groupKey?.[k])]);
  const hasTime = answer.results.some((r) => r.timestamp !== undefined);
  if (answer.queryType === "range") {
    return [time, ["value", (r) => num(r.value)], ["dimensions", (r) => dimsCell(r.dimensions)]];
  }
  if (answer.queryType === "rate") return [...keys, time, ["rate /s", (r) => num(r.rate)]];
  return [...keys, ...(hasTime ? [time] : []), ["value", (r) => num(r.value)],
    ["count", (r) => num(r.count)]];
}

function num(v) {
  return h("span", { class: "num" }, v === null ? "null" : String(v));
}

function cellText(v) {
  return v === null || v === undefined ? h("span", { class: "muted" }, "(missing)") : v;
}

function dimsCell(dims) {
  const entries = Object.entries(dims ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "(none)");
  return h("ul", { class: "dims" },
    entries.map(([k, v]) => h("li", {}, h("span", { class: "key" }, k), "=", h("span", {}, v))));
}

/** The table of an answer, showing PAGE_ROWS rows at a time. */
export function table(answer, groupBy) {
  const cols = columns(answer, groupBy);
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary" });
  let shownRows = 0;
  const showMore = () => {
    const next = answer.results.slice(shownRows, shownRows + PAGE_ROWS);
    for (const row of next) body.append(h("tr", {}, cols.map(([, cell]) => h("td", {}, cell(row)))));
    shownRows += next.length;
    const left = answer.results.length - shownRows;
    more.hidden = left <= 0;
    more.textContent = `Show ${Math.min(left, PAGE_ROWS)} more rows (${formatCount(left)} left)`;
  };
  more.addEventListener("click", showMore);
  showMore();
  return h("div", { class: "table-wrap" },
    h("table", { class: "results" },
      h("caption", {}, `${formatCount(answer.results.length)} rows`),
      h("thead", {}, h("tr", {}, cols.map(([name]) => h("th", { scope: "col" }, name)))),
      body),
    more);
}

/** One value per group (aggregate without interval): bars beside the numbers. */
export function bars(answer) {
  const values = answer.results.map((r) => r.value).filter((v) => typeof v === "number");
  const max = Math.max(...values.map(Math.abs), 0);
  return h("ul", { class: "bars", "aria-label": "Value per group" },
    answer.results.slice(0, MAX_SERIES).map((r) => {
      const bar = h("span", { class: "bar" });
      bar.style.width = `${max > 0 && typeof r.value === "number" ? (Math.abs(r.value) / max) * 100 : 0}%`;
      return h("li", {}, h("span", { class: "bar-label" }, labelOf(r.groupKey)),
        h("span", { class: "bar-track" }, bar), h("span", { class: "num" }, String(r.value)));
    }));
}
