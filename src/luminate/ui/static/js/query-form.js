// The Explore query form: every control labelled, every field with its own error slot (the
// API's errors are shown next to the field they are about).
import { field, fill, h } from "./dom.js";
import { INTERVALS, RANGES, fromLocalInput, toLocalInput } from "./time.js";
import { AGGREGATIONS, QUERY_TYPES } from "./view-state.js";

function options(values, selected) {
  return values.map((v) => h("option", { value: v, selected: v === selected }, v));
}

function datalist(id, values) {
  return h("datalist", { id }, values.map((v) => h("option", { value: v })));
}

/** A fieldset with a legend and an error slot `${id}-error`, like `field` for groups. */
function group(id, legend, ...children) {
  return h("fieldset", { id, class: "group", "aria-describedby": `${id}-error` },
    h("legend", {}, legend), ...children,
    h("p", { class: "field-error", id: `${id}-error`, role: "alert", hidden: true }));
}

export function queryForm({ state, onSubmit, onMetricChange, onRemoveFilter }) {
  const metric = h("input", { type: "text", autocomplete: "off",
    spellcheck: "false", required: true });
  const type = h("select", {}, options(QUERY_TYPES, state.type));
  const agg = h("select", {}, options(AGGREGATIONS, state.agg));
  const interval = h("input", { type: "text", list: "interval-choices", autocomplete: "off",
    spellcheck: "false" });
  const relative = h("input", { type: "radio", name: "range-mode", value: "relative", id: "q-mode-relative" });
  const absolute = h("input", { type: "radio", name: "range-mode", value: "absolute", id: "q-mode-absolute" });
  const range = h("input", { type: "text", list: "range-choices", autocomplete: "off", spellcheck: "false" });
  const start = h("input", { type: "datetime-local", step: "0.001" });
  const end = h("input", { type: "datetime-local", step: "0.001" });
  const chips = h("ul", { class: "chips", "aria-label": "Filters" });
  const filterKey = h("select", {});
  const filterValue = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const addFilter = h("button", { type: "button", class: "secondary" }, "Add filter");
  const groupBoxes = h("div", { class: "checks" });
  const limit = h("input", { type: "number", min: "1", step: "1", inputmode: "numeric" });
  const timeout = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const runButton = h("button", { type: "submit", class: "primary" }, "Run query");
  let keys = [];

  const el = h("form", { class: "panel query", "aria-labelledby": "query-h", novalidate: true },
    h("h2", { id: "query-h" }, "Query"),
    datalist("interval-choices", ["auto", "none", ...INTERVALS]),
    datalist("range-choices", RANGES),
    h("div", { class: "row" },
      field("q-metric", "Metric", metric),
      field("q-type", "Query type", type),
      field("q-agg", "Aggregation", agg),
      field("q-interval", "Interval", interval, "auto, none (one value per group), 1m, ...")),
    h("div", { class: "groups" },
      group("q-time", "Time range",
        h("div", { class: "row" },
          h("div", { class: "radio" }, relative, h("label", { for: relative.id }, "Last")),
          field("q-range", "Duration", range, "e.g. 15m, 2h30m, 7d")),
        h("div", { class: "row" },
          h("div", { class: "radio" }, absolute, h("label", { for: absolute.id }, "Between")),
          field("q-start", "Start (local time)", start),
          field("q-end", "End (local time)", end))),
      h("div", {},
        group("q-groupby", "Group by", groupBoxes),
        group("q-filters", "Filters (equality, all must match)", chips,
          h("div", { class: "row" }, field("q-filter-key", "Key", filterKey),
            field("q-filter-value", "Value", filterValue),
            h("div", { class: "field end" }, addFilter))))),
    h("details", { class: "options" }, h("summary", {}, "Limit and timeout"),
      h("div", { class: "row" },
        field("q-limit", "Limit (rows)", limit, "empty: the server's default"),
        field("q-timeout", "Timeout", timeout, "e.g. 10s; empty: the server's default"))),
    h("div", { class: "actions" }, runButton));

  const applicable = () => {
    agg.disabled = type.value !== "aggregate";
    interval.disabled = type.value === "range";
    for (const box of groupBoxes.querySelectorAll("input")) box.disabled = type.value === "range";
    range.disabled = !relative.checked;
    start.disabled = end.disabled = relative.checked;
  };

  const showChips = (s) => fill(chips, s.filters.map(([k, v], i) => h("li", { class: "chip" },
    h("span", { class: "key" }, k), " = ", h("span", { class: "value" }, v),
    h("button", { type: "button", class: "remove", "aria-label": `Remove filter ${k} = ${v}`,
      onclick: () => onRemoveFilter(i) }, "×"))));

  const showGroupBy = (s) => {
    const all = [...keys, ...s.groupBy.filter((k) => !keys.includes(k))];
    fill(groupBoxes, all.length ? all.map((k) => h("label", { class: "check" },
      h("input", { type: "checkbox", value: k, checked: s.groupBy.includes(k) }), k))
      : h("p", { class: "hint" }, "The metric's dimension keys appear here."));
    fill(filterKey, all.map((k) => h("option", { value: k }, k)));
  };

  const form = {
    el,
    /** Copy the controls into `s`. */
    read(s) {
      s.metric = metric.value.trim();
      s.type = type.value;
      s.agg = agg.value;
      s.interval = interval.value.trim() || "auto";
      if (relative.checked) {
        s.range = range.value.trim();
        s.start = s.end = null;
      } else {
        s.start = fromLocalInput(start.value);
        s.end = fromLocalInput(end.value);
        if (s.start === null || s.end === null) {
          // Keep the view absolute; the API names the missing time.
          s.start ??= Number.NaN;
          s.end ??= Number.NaN;
        }
      }
      s.groupBy = [...groupBoxes.querySelectorAll("input:checked")].map((b) => b.value);
      s.limit = limit.value.trim();
      s.timeout = timeout.value.trim();
    },
    /** Show `s` in the controls. */
    sync(s) {
      metric.value = s.metric;
      type.value = s.type;
      agg.value = s.agg;
      interval.value = s.interval;
      const isAbsolute = s.start !== null && s.end !== null;
      relative.checked = !isAbsolute;
      absolute.checked = isAbsolute;
      range.value = s.range;
      start.value = isAbsolute ? toLocalInput(s.start) : "";
      end.value = isAbsolute ? toLocalInput(s.end) : "";
      limit.value = s.limit;
      timeout.value = s.timeout;
      showChips(s);
      showGroupBy(s);
      applicable();
    },
    setKeys(names) {
      keys = names;
      const s = { groupBy: [...groupBoxes.querySelectorAll("input:checked")].map((b) => b.value),
        filters: [] };
      showGroupBy(s);
      applicable();
    },
    busy(on) {
      runButton.disabled = on;
      runButton.textContent = on ? "Running…" : "Run query";
    },
  };

  type.addEventListener("change", applicable);
  relative.addEventListener("change", applicable);
  absolute.addEventListener("change", () => {
    if (!start.value || !end.value) {
      const now = Date.now();
      end.value = toLocalInput(now);
      start.value = toLocalInput(now - 3_600_000);
    }
    applicable();
  });
  metric.addEventListener("change", () => onMetricChange(metric.value.trim()));
  addFilter.addEventListener("click", () => {
    const key = filterKey.value;
    const value = filterValue.value;
    if (!key) return;
    form.read(state);
    state.filters = state.filters.filter(([k]) => k !== key);
    state.filters.push([key, value]);
    filterValue.value = "";
    form.sync(state);
  });
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit();
  });
  form.sync(state);
  return form;
}
