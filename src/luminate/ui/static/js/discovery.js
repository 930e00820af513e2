// The Explore sidebar: the tenant's metrics, and the chosen metric's dimension keys and values.
// Lists are searchable (within what is loaded) and paged: "Load more" asks the API for a larger
// `limit` (most points first), up to the API's maximum.
import { api } from "./api.js";
import { fill, formatCount, h, plural } from "./dom.js";

const FIRST_PAGE = 100;
export const MAX_LIMIT = 10_000; // the discovery endpoints' largest `limit`

/**
 * A searchable, paged list. `load(limit, signal)` resolves to {items, truncated};
 * `row(item)` makes an <li>'s content; `text(item)` is what the search matches.
 */
function pagedList({ label, id, load, row, text, empty }) {
  const search = h("input", { type: "search", id, autocomplete: "off", spellcheck: "false" });
  const list = h("ul", { class: "pick-list", "aria-label": label });
  const status = h("p", { class: "hint", role: "status" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const root = h("div", { class: "paged" },
    h("label", { for: id }, `Search ${label.toLowerCase()}`), search, status, list, more);
  let limit = FIRST_PAGE;
  let items = [];
  let truncated = false;
  let controller = null;

  const show = () => {
    const needle = search.value.trim().toLowerCase();
    const hits = needle ? items.filter((it) => text(it).toLowerCase().includes(needle)) : items;
    fill(list, hits.map((it) => h("li", {}, row(it))));
    const loaded = `${formatCount(items.length)}${truncated ? "+" : ""}`;
    const noun = label.toLowerCase();
    status.textContent = !items.length ? empty
      : needle ? `${formatCount(hits.length)} of ${loaded} loaded match`
        : `${loaded} ${items.length === 1 && !truncated ? noun.replace(/s$/, "") : noun}` +
          `${truncated ? " (most points first)" : ""}`;
    more.hidden = !truncated || limit >= MAX_LIMIT;
  };
  const fetchPage = async () => {
    controller?.abort();
    controller = new AbortController();
    status.textContent = "Loading…";
    try {
      ({ items, truncated } = await load(limit, controller.signal));
      show();
    } catch (error) {
      if (error.name === "AbortError") return;
      fill(status, h("span", { class: "error-text" }, h("code", {}, error.code), " ", error.message));
    }
  };
  search.addEventListener("input", show);
  more.addEventListener("click", () => {
    limit = Math.min(limit * 4, MAX_LIMIT);
    fetchPage();
  });
  // Resolves once the first page is shown (or its error).
  root.ready = fetchPage();
  return root;
}

/** `selected()`: the metric to mark as current. */
export function metricList({ selected, onPick }) {
  return pagedList({
    label: "Metrics",
    id: "metric-search",
    empty: "No metrics stored yet.",
    load: async (limit, signal) => {
      const out = await api.metrics({ limit }, signal);
      return { items: out.metrics, truncated: out.truncated };
    },
    text: (m) => m.name,
    row: (m) => h("button", {
      type: "button",
      class: m.name === selected() ? "pick current" : "pick",
      "aria-current": m.name === selected() ? "true" : null,
      dataset: { metric: m.name },
      onclick: () => onPick(m.name),
    }, h("span", { class: "name" }, m.name),
    h("span", { class: "meta" }, `${formatCount(m.series)} series · ${plural(m.points, "point")}`)),
  });
}

/** The values of one key, each a button that adds the filter key=value. */
export function valueList(metric, key, { onFilter }) {
  return pagedList({
    label: "Values",
    id: `values-search-${key}`,
    empty: "No values.",
    load: async (limit, signal) => {
      const out = await api.values(metric, key, { limit }, signal);
      return { items: out.values, truncated: out.truncated };
    },
    text: (v) => v.value,
    row: (v) => h("button", {
      type: "button",
      class: "pick",
      title: `Filter ${key} = this value`,
      onclick: () => onFilter(key, v.value),
    }, h("span", { class: "name" }, v.value), h("span", { class: "meta" }, plural(v.points, "point"))),
  });
}

/** The metric's keys; each opens its values. Resolves to the keys' names. */
export async function dimensionPanel(container, metric, { onFilter, onGroupBy }) {
  fill(container, h("p", { class: "hint", role: "status" }, "Loading dimensions…"));
  let out;
  try {
    out = await api.dimensions(metric, { limit: 1000 });
  } catch (error) {
    fill(container, h("p", { class: "error-text" }, h("code", {}, error.code), " ", error.message));
    return [];
  }
  if (!out.dimensions.length) {
    fill(container, h("p", { class: "hint" }, "This metric has no dimensions."));
    return [];
  }
  fill(container, h("ul", { class: "keys", "aria-label": `Dimensions of ${metric}` },
    out.dimensions.map((d) => {
      const values = h("div", { class: "values", hidden: true });
      const toggle = h("button", {
        type: "button",
        class: "pick",
        "aria-expanded": "false",
        onclick: () => {
          const open = values.hidden;
          values.hidden = !open;
          toggle.setAttribute("aria-expanded", String(open));
          if (open && !values.firstChild) values.append(valueList(metric, d.key, { onFilter }));
        },
      }, h("span", { class: "name" }, d.key),
      h("span", { class: "meta" }, plural(d.distinctValues, "value")));
      const group = h("button", {
        type: "button",
        class: "secondary small",
        "aria-label": `Group by ${d.key}`,
        onclick: () => onGroupBy(d.key),
      }, "group by");
      return h("li", {}, h("div", { class: "key-row" }, toggle, group), values);
    })));
  return out.dimensions.map((d) => d.key);
}

/** Mark `metric` as the current one in a list made by `metricList`. */
export function markCurrent(list, metric) {
  for (const button of list.querySelectorAll("button[data-metric]")) {
    const current = button.dataset.metric === metric;
    button.classList.toggle("current", current);
    if (current) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}
