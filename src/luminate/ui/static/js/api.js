// The UI's only way to the server: the public API on this origin, with the signed-in token in
// the Authorization header (never in a URL or a cookie).

/** An answer other than 2xx, in the API's one error shape (or made up for a network failure). */
export class ApiError extends Error {
  constructor(status, code, message, details = {}, retryAfterS = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterS = retryAfterS;
  }

  /** Whether the same request may succeed later without being changed. */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status >= 500 ||
      this.code === "query_timeout";
  }
}

let auth = { token: () => null, onUnauthorized: () => {} };

/** Where requests get their token, and who hears of a 401 (the session: it signs out). */
export function configure(source) {
  auth = source;
}

async function call(path, { method = "GET", body, token, signal } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token ?? auth.token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, "network_error", `Luminate did not answer: ${exc.message}`);
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (resp.ok) return data;
  const err = data?.error;
  const retry = Number.parseInt(resp.headers.get("Retry-After") ?? "", 10);
  const error = new ApiError(
    resp.status,
    err?.code ?? `http_${resp.status}`,
    err?.message ?? `HTTP ${resp.status} ${resp.statusText}`,
    err?.details ?? {},
    Number.isFinite(retry) ? retry : null,
  );
  if (resp.status === 401 && token === undefined) auth.onUnauthorized(error);
  throw error;
}

function params(values) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== null) qs.set(k, v);
  const text = qs.toString();
  return text ? `?${text}` : "";
}

const seg = encodeURIComponent;

export const api = {
  whoami: (token) => call("/api/v1/auth/whoami", { token }),
  metrics: (opts = {}, signal) => call(`/api/v1/metrics${params(opts)}`, { signal }),
  dimensions: (metric, opts = {}, signal) =>
    call(`/api/v1/metrics/${seg(metric)}/dimensions${params(opts)}`, { signal }),
  values: (metric, key, opts = {}, signal) =>
    call(`/api/v1/metrics/${seg(metric)}/dimensions/${seg(key)}/values${params(opts)}`, {
      signal,
    }),
  cardinality: (opts = {}, signal) => call(`/api/v1/cardinality${params(opts)}`, { signal }),
  query: (body, signal) => call("/api/v1/query", { method: "POST", body, signal }),
};
