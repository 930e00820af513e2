// The signed-in token. It lives in this tab's sessionStorage (gone when the tab closes, never
// sent anywhere but in the Authorization header of this origin's API) and is dropped when it
// expires or when the server refuses it.
import { api, configure } from "./api.js";

const KEY = "luminate.token";
// setTimeout's longest delay; a later expiry is re-armed in steps.
const MAX_DELAY_MS = 2 ** 31 - 1;

let identity = null;
let timer = null;
const listeners = new Set();

configure({
  token: () => sessionStorage.getItem(KEY),
  onUnauthorized: (error) => end(`${error.code}: ${error.message}`),
});

/** { tenantId, scopes, subject, orgId, tier, expiresAt } of the signed-in token, or null. */
export function current() {
  return identity;
}

/** Called with (identity, reason) whenever the user signs in or out. */
export function onChange(listener) {
  listeners.add(listener);
}

/** Verify `token` with the server and keep it. Throws the API's error when it is refused. */
export async function signIn(token) {
  const who = await api.whoami(token.trim());
  sessionStorage.setItem(KEY, token.trim());
  start(who);
  return who;
}

/** The token kept in this tab, verified again; null when there is none or it is refused. */
export async function restore() {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  try {
    start(await api.whoami(token));
    return identity;
  } catch (error) {
    if (error.status === 401) {
      end(`${error.code}: ${error.message}`);
      return null;
    }
    throw error;
  }
}

export function signOut() {
  end(null);
}

function start(who) {
  identity = who;
  arm();
  emit(null);
}

function end(reason) {
  sessionStorage.removeItem(KEY);
  clearTimeout(timer);
  const wasSignedIn = identity !== null;
  identity = null;
  if (wasSignedIn || reason) emit(reason);
}

function arm() {
  clearTimeout(timer);
  if (identity?.expiresAt == null) return;
  const left = identity.expiresAt - Date.now();
  if (left <= 0) {
    const at = new Date(identity.expiresAt).toLocaleString();
    end(`token_expired: your token expired at ${at}; sign in with a new one`);
    return;
  }
  timer = setTimeout(arm, Math.min(left, MAX_DELAY_MS));
}

function emit(reason) {
  for (const listener of listeners) listener(identity, reason);
}
