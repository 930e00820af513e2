// The Explore view's state and its place in the URL (#/explore?metric=...), so a view can be
// shared and reloaded; and the API query it stands for.
import { autoInterval, durationMs } from "./time.js";

export const QUERY_TYPES = ["aggregate", "range", "rate"];
export const AGGREGATIONS = ["avg", "sum", "count", "min", "max", "p50", "p95", "p99", "integral"];

export function defaults() {
  return {
    metric: "",
    type: "aggregate",
    agg: "avg",
    interval: "auto", // "auto", "none" (aggregate only: one value per group) or a duration
    range: "1h", // a relative duration, unless start and end are set
    start: null,
    end: null,
    filters: [], // [[key, value], ...]
    groupBy: [],
    limit: "",
    timeout: "",
  };
}

/** The state of `#/explore?...` (unknown parameters are ignored). */
export function fromParams(params) {
  const s = defaults();
  for (const key of ["metric", "type", "agg", "interval", "range", "limit", "timeout"]) {
    if (params.has(key)) s[key] = params.get(key);
  }
  if (params.has("start") && params.has("end")) {
    s.start = Number(params.get("start"));
    s.end = Number(params.get("end"));
  }
  // f=key=value: keys cannot contain "=", values can.
  s.filters = params.getAll("f").map((f) => {
    const at = f.indexOf("=");
    return at < 0 ? [f, ""] : [f.slice(0, at), f.slice(at + 1)];
  });
  s.groupBy = (params.get("g") ?? "").split(",").filter(Boolean);
  return s;
}

export function toParams(s) {
  const p = new URLSearchParams();
  const base = defaults();
  if (s.metric) p.set("metric", s.metric);
  for (const key of ["type", "agg", "interval"]) if (s[key] !== base[key]) p.set(key, s[key]);
  if (s.start !== null && s.end !== null) {
    p.set("start", String(s.start));
    p.set("end", String(s.end));
  } else if (s.range !== base.range) {
    p.set("range", s.range);
  }
  for (const [k, v] of s.filters) p.append("f", `${k}=${v}`);
  if (s.groupBy.length) p.set("g", s.groupBy.join(","));
  if (s.limit) p.set("limit", s.limit);
  if (s.timeout) p.set("timeout", s.timeout);
  return p;
}

/** The span a state's time range covers, in ms, or null when it does not parse. */
export function spanMs(s) {
  if (s.start !== null && s.end !== null) return s.end - s.start;
  return durationMs(s.range);
}

/** The interval sent for a state: null for none, "auto" resolved against the span. */
export function intervalOf(s) {
  if (s.type === "range" || (s.type === "aggregate" && s.interval === "none")) return null;
  if (s.interval === "auto" || s.interval === "") {
    const span = spanMs(s);
    return span ? autoInterval(span) : "1m";
  }
  return s.interval === "none" ? null : s.interval;
}

/** The POST /api/v1/query body for a state. */
export function queryBody(s) {
  const body = { queryType: s.type, metricName: s.metric };
  body.timeRange = s.start !== null && s.end !== null
    ? { start: s.start, end: s.end }
    : { relative: s.range };
  if (s.filters.length) body.filters = Object.fromEntries(s.filters);
  if (s.type === "aggregate") body.aggregation = s.agg;
  if (s.type !== "range") {
    if (s.groupBy.length) body.groupBy = [...s.groupBy];
    const interval = intervalOf(s);
    if (interval) body.interval = interval;
  }
  if (s.limit !== "") body.limit = /^[0-9]+$/.test(s.limit) ? Number(s.limit) : s.limit;
  if (s.timeout) body.timeout = s.timeout;
  return body;
}
