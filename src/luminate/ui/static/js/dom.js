// Building elements. Everything that came from the API or the URL reaches the page as a text
// node or an attribute value, never as HTML, so a metric name or dimension value such as
// "<img src=x onerror=...>" is shown exactly as it is written. (The page's CSP also forbids
// string-to-HTML sinks outright.)

/**
 * h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", child, [more])
 * Properties: `class`, `dataset`, `on<event>` listeners, `value`/`checked`/... (set as DOM
 * properties), anything else as an attribute; null, undefined and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (PROPERTIES.has(name)) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

const PROPERTIES = new Set(["value", "checked", "selected", "disabled", "hidden", "textContent"]);

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A labelled form field: label, control, hint and an error slot tied to the control. */
export function field(id, label, control, hint) {
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert", hidden: true });
  const described = [error.id];
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
    described.push(hintEl.id);
  }
  control.setAttribute("aria-describedby", described.join(" "));
  const wrap = h("div", { class: "field", dataset: { field: id } },
    h("label", { for: id }, label), control, hintEl, error);
  return wrap;
}

/** Show (or with null, clear) the error under a field made by `field`. */
export function setFieldError(root, id, error) {
  const slot = root.querySelector(`#${CSS.escape(id)}-error`);
  const control = root.querySelector(`#${CSS.escape(id)}`);
  if (!slot) return false;
  if (error) {
    fill(slot, h("code", {}, error.code), " ", error.message);
    slot.hidden = false;
    control?.setAttribute("aria-invalid", "true");
  } else {
    slot.replaceChildren();
    slot.hidden = true;
    control?.removeAttribute("aria-invalid");
  }
  return true;
}

export function formatCount(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "—";
}

/** "1 value", "3 values". */
export function plural(n, word) {
  return `${formatCount(n)} ${word}${n === 1 ? "" : "s"}`;
}
