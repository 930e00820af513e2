// Sign-in: paste a token; the server verifies it and says whom it speaks for.
import { fill, h } from "./dom.js";
import { signIn } from "./session.js";

/** `reason`: why the user is asked to sign in (e.g. the token expired), or null. */
export function render(main, reason) {
  const token = h("input", { type: "password", id: "token", autocomplete: "off",
    spellcheck: "false", required: true, "aria-describedby": "token-hint token-error" });
  const error = h("div", { id: "token-error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "panel signin", "aria-labelledby": "signin-h", novalidate: true },
    h("h1", { id: "signin-h" }, "Sign in"),
    reason ? h("p", { class: "error-box", id: "signin-reason", role: "status" }, reason) : null,
    h("div", { class: "field" }, h("label", { for: "token" }, "API token"), token),
    h("p", { class: "hint", id: "token-hint" },
      "A bearer token for this server, e.g. from ",
      h("code", {}, "luminate token create --tenant <tenant> --scopes read --ttl 8h"),
      ". It is kept in this tab's session storage only, sent only to this server in the ",
      "Authorization header, and forgotten when the tab closes, you sign out, or it expires."),
    error,
    h("div", { class: "actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    if (!token.value.trim()) {
      fill(error, h("p", { class: "field-error" }, "Paste a token first."));
      token.focus();
      return;
    }
    button.disabled = true;
    try {
      await signIn(token.value);
    } catch (exc) {
      token.setAttribute("aria-invalid", "true");
      fill(error, h("p", { class: "field-error" }, h("code", {}, exc.code ?? "error"),
        " ", exc.message));
      token.focus();
    } finally {
      button.disabled = false;
    }
  });
  fill(main, form);
  token.focus();
  return () => {};
}
