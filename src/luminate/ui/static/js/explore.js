// Explore: pick a metric, filters and group-by from what exists, an aggregation, an interval
// and a time range; run it; see a chart and a table. The view lives in the URL.
import { api } from "./api.js";
import * as chart from "./chart.js";
import { dimensionPanel, markCurrent, metricList } from "./discovery.js";
import { fill, formatCount, h, setFieldError } from "./dom.js";
import { queryForm } from "./query-form.js";
import { bars, chartData, table } from "./results.js";
import { fromParams, queryBody, toParams } from "./view-state.js";

/** Render Explore for the URL parameters into `main`; returns a function that tears it down. */
export function render(main, params) {
  let state = fromParams(params);
  let controller = null;
  let lastBody = null;
  let lastAnswer = null;

  const sidebarMetrics = h("section", { class: "panel", "aria-labelledby": "metrics-h" });
  const sidebarDims = h("section", { class: "panel", "aria-labelledby": "dims-h" });
  const runStatus = h("div", { class: "run-status", role: "status", "aria-live": "polite" });
  const summary = h("p", { class: "summary", id: "summary" });
  const chartEl = h("div", { class: "chart", id: "chart" });
  const tableEl = h("div", { id: "table" });
  const form = queryForm({
    state,
    onSubmit: () => run(true),
    onMetricChange: (metric) => pickMetric(metric, false),
    onRemoveFilter: (i) => {
      state.filters.splice(i, 1);
      form.sync(state);
    },
  });
  const resultsEl = h("section", { class: "panel results-panel", "aria-labelledby": "results-h" },
    h("h2", { id: "results-h" }, "Results"), runStatus, summary, chartEl, tableEl);

  fill(main, h("div", { class: "explore" },
    h("aside", { class: "sidebar" }, sidebarMetrics, sidebarDims),
    h("div", { class: "workspace" }, form.el, resultsEl)));

  const metrics = metricList({ selected: () => state.metric, onPick: (m) => pickMetric(m, true) });
  fill(sidebarMetrics, h("h2", { id: "metrics-h" }, "Metrics"), metrics);

  const showDimensions = async () => {
    const body = h("div");
    fill(sidebarDims, h("h2", { id: "dims-h" }, "Dimensions"),
      state.metric ? h("p", { class: "hint" }, "of ", h("code", {}, state.metric)) : null, body);
    if (!state.metric) {
      fill(body, h("p", { class: "hint" }, "Pick a metric to see its dimensions."));
      form.setKeys([]);
      return;
    }
    const keys = await dimensionPanel(body, state.metric, {
      onFilter: (key, value) => {
        form.read(state);
        state.filters = state.filters.filter(([k]) => k !== key);
        state.filters.push([key, value]);
        form.sync(state);
        run(true);
      },
      onGroupBy: (key) => {
        form.read(state);
        if (!state.groupBy.includes(key)) state.groupBy.push(key);
        if (state.type === "range") state.type = "aggregate";
        form.sync(state);
        run(true);
      },
    });
    form.setKeys(keys);
  };

  // Requests go one after another (dimensions, then the query), so the page alone never
  // takes more than one of the tenant's concurrent-query slots.
  async function pickMetric(metric, runIt) {
    form.read(state);
    if (metric === state.metric && !runIt) return;
    const changed = metric !== state.metric;
    state.metric = metric;
    if (changed) {
      state.filters = [];
      state.groupBy = [];
    }
    form.sync(state);
    markCurrent(metrics, metric);
    if (changed) await showDimensions();
    if (runIt) run(true);
  }

  function clearErrors() {
    for (const slot of form.el.querySelectorAll(".field-error")) {
      setFieldError(form.el, slot.id.replace(/-error$/, ""), null);
    }
    runStatus.replaceChildren();
  }

  async function run(push, body = null) {
    if (!body) {
      form.read(state);
      clearErrors();
      if (!state.metric) {
        setFieldError(form.el, "q-metric", { code: "missing_field", message: "pick a metric" });
        return;
      }
      body = queryBody(state);
      if (push) {
        const hash = `#/explore?${toParams(state)}`;
        if (location.hash !== hash) history.pushState(null, "", hash);
      }
    } else {
      clearErrors();
    }
    lastBody = body;
    controller?.abort();
    controller = new AbortController();
    fill(runStatus, h("span", { class: "busy" }, "Running…"));
    form.busy(true);
    try {
      const answer = await api.query(body, controller.signal);
      runStatus.replaceChildren();
      lastAnswer = answer;
      showAnswer(answer);
    } catch (error) {
      if (error.name === "AbortError") return;
      showError(error);
    } finally {
      form.busy(false);
    }
  }

  function showAnswer(answer) {
    fill(summary,
      `${formatCount(answer.results.length)} rows · `,
      lastBody.interval ? `interval ${lastBody.interval} · ` : "",
      `${answer.executionTimeMs} ms · ${formatCount(answer.pointsScanned)} points scanned`,
      answer.truncated ? h("strong", { class: "warn" }, " · truncated at the limit") : null);
    const data = chartData(answer);
    chart.destroy();
    chartEl.replaceChildren();
    if (data) {
      chart.draw(chartEl, data, (start, end) => {
        form.read(state);
        state.start = start;
        state.end = end;
        form.sync(state);
        run(true);
      });
      if (data.total > data.series.length) {
        chartEl.append(h("p", { class: "hint" },
          `The chart shows the first ${data.series.length} of ${formatCount(data.total)} series; the table has all rows.`));
      }
    } else if (answer.results.length && answer.queryType === "aggregate") {
      chartEl.append(bars(answer),
        h("p", { class: "hint" }, "One value per group. Pick an interval to see them over time."));
    } else if (!answer.results.length) {
      chartEl.append(h("p", { class: "empty" }, "No points match this query in this time range."));
    }
    fill(tableEl, answer.results.length ? table(answer, lastBody.groupBy ?? []) : null);
  }

  function showError(error) {
    const where = fieldFor(error, state);
    if (where) setFieldError(form.el, where, error);
    const box = h("div", { class: "error-box", role: "alert" },
      h("p", {}, h("code", {}, error.code), error.status ? ` (HTTP ${error.status}) ` : " ",
        error.message),
      error.retryAfterS !== null ? h("p", { class: "hint" },
        `The server asks to wait ${error.retryAfterS} s before retrying.`) : null,
      error.code === "query_timeout" ? h("p", { class: "hint" },
        "Retry, or raise the timeout, narrow the time range or add filters.") : null,
      // Retry runs what the form holds now, so a changed timeout or range takes part.
      error.retryable ? h("button", { type: "button", onclick: () => run(true) }, "Retry") : null);
    if (where && !error.retryable) {
      fill(runStatus, h("p", { class: "error-text" }, "The query was refused; see the marked field."));
    } else {
      fill(runStatus, box);
    }
  }

  const onResize = () => chart.resize(chartEl);
  window.addEventListener("resize", onResize);
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  // The chart takes its colours from the theme when drawn: draw it again when the theme flips.
  const onScheme = () => lastAnswer && showAnswer(lastAnswer);
  scheme.addEventListener("change", onScheme);

  let closed = false;
  (async () => {
    await metrics.ready;
    if (!closed) await showDimensions();
    if (!closed && state.metric) run(false);
  })();

  return () => {
    closed = true;
    controller?.abort();
    chart.destroy();
    window.removeEventListener("resize", onResize);
    scheme.removeEventListener("change", onScheme);
  };
}

/** The form field an API error is about, or null when it is about the query as a whole. */
export function fieldFor(error, state) {
  const m = error.message ?? "";
  const absolute = state.start !== null && state.end !== null;
  switch (error.code) {
    case "invalid_metric_name": return "q-metric";
    case "unknown_query_type": return "q-type";
    case "unknown_aggregation": return "q-agg";
    case "too_many_buckets": return "q-interval";
    case "invalid_duration":
      return m.startsWith("interval") ? "q-interval" : "q-range";
    case "invalid_time": return m.startsWith("end") ? "q-end" : "q-start";
    case "invalid_time_range":
    case "time_range_too_long":
      return absolute ? "q-start" : "q-range";
    case "missing_field":
      if (m.includes("interval")) return "q-interval";
      if (m.includes("aggregation")) return "q-agg";
      return absolute ? "q-start" : "q-range";
    case "not_applicable": return m.startsWith("aggregation") ? "q-agg" : "q-interval";
    case "invalid_filter": return "q-filters";
    case "invalid_group_by": return "q-groupby";
    case "invalid_limit": return "q-limit";
    case "invalid_timeout":
    case "query_timeout":
      return "q-timeout";
    default: return null;
  }
}
