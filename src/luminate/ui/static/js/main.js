// The page: a hash router (#/explore?..., #/cardinality?...) over the views, shown only while
// a token is signed in; the header shows whom the token speaks for and until when.
import { fill, h } from "./dom.js";
import { current, onChange, restore, signOut } from "./session.js";
import * as signin from "./signin.js";
import { fromNow } from "./time.js";

// Loaded when first shown, so the sign-in page fetches neither the views nor the chart library.
const VIEWS = { explore: () => import("./explore.js"), cardinality: () => import("./cardinality.js") };
const TITLES = { explore: "Explore", cardinality: "Cardinality" };
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const identityEl = document.getElementById("identity");
let teardown = () => {};
let clock = null;
let routed = false;
let routes = 0;

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, "");
  const at = hash.indexOf("?");
  const page = at < 0 ? hash : hash.slice(0, at);
  const params = new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
  return { page: page in VIEWS ? page : "explore", params };
}

function showIdentity(who) {
  clearInterval(clock);
  nav.hidden = !who;
  if (!who) {
    identityEl.replaceChildren();
    return;
  }
  const expiry = h("span", { id: "expiry" });
  const tick = () => {
    expiry.textContent = who.expiresAt == null ? "no expiry"
      : `expires ${new Date(who.expiresAt).toLocaleString()} (${fromNow(who.expiresAt)})`;
  };
  tick();
  clock = setInterval(tick, 15_000);
  fill(identityEl,
    h("span", {}, "tenant ", h("strong", { id: "tenant" }, who.tenantId)),
    h("span", { id: "scopes" }, `scopes: ${who.scopes.join(", ") || "none"}`),
    expiry,
    h("button", { type: "button", class: "secondary small", onclick: () => signOut() }, "Sign out"));
}

async function route(reason = null) {
  routed = true;
  const mine = ++routes;
  teardown();
  teardown = () => {};
  const who = current();
  showIdentity(who);
  if (!who) {
    document.title = "Sign in · Luminate";
    teardown = signin.render(main, reason);
    return;
  }
  const { page, params } = parseHash();
  document.title = `${TITLES[page]} · Luminate`;
  for (const link of nav.querySelectorAll("a")) {
    link.setAttribute("aria-current", link.dataset.page === page ? "page" : "false");
  }
  fill(main, h("p", { class: "loading" }, "Loading…"));
  const view = await VIEWS[page]();
  if (mine !== routes) return; // another route began while this view loaded
  teardown = view.render(main, params);
  // Keyboard users start at the new view, not at whatever the old one had focused.
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
}

onChange((who, reason) => route(reason));
// Also fires on back/forward between the entries Explore pushes for each run.
window.addEventListener("hashchange", () => route());

async function boot() {
  // With a session in this tab, fetch the view's modules while the token is being verified.
  if (sessionStorage.getItem("luminate.token")) VIEWS[parseHash().page]().catch(() => {});
  try {
    await restore();
  } catch (error) {
    fill(main, h("div", { class: "error-box", role: "alert" },
      h("p", {}, h("code", {}, error.code ?? "error"), " ", error.message)));
    return;
  }
  if (!routed) route();
}

boot();
