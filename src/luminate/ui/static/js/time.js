// Durations and times as the API spells them: durations are digits with units ms s m h d w,
// combinable ("2h30m"); times in answers are epoch milliseconds.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(?:[0-9]{1,9}(?:ms|s|m|h|d|w))+$/;
const PART = /([0-9]{1,9})(ms|s|m|h|d|w)/g;

export const RANGES = ["5m", "15m", "1h", "6h", "24h", "7d", "30d"];
export const INTERVALS = ["10s", "1m", "5m", "15m", "1h", "6h", "1d"];
// What "auto" picks from: the smallest step that keeps a range to about TARGET_BUCKETS.
const STEPS = ["1s", "5s", "10s", "15s", "30s", "1m", "2m", "5m", "10m", "15m", "30m", "1h",
  "2h", "3h", "6h", "12h", "1d", "2d", "7d"];
const TARGET_BUCKETS = 120;

/** Milliseconds in a duration, or null when the API would refuse it. */
export function durationMs(text) {
  if (typeof text !== "string" || !DURATION.test(text)) return null;
  let total = 0;
  for (const [, n, unit] of text.matchAll(PART)) total += Number(n) * UNIT_MS[unit];
  return total > 0 ? total : null;
}

/** The interval "auto" stands for over a span of `spanMs`. */
export function autoInterval(spanMs) {
  const want = spanMs / TARGET_BUCKETS;
  return STEPS.find((step) => durationMs(step) >= want) ?? STEPS[STEPS.length - 1];
}

/** "2026-11-25 10:00:00.000" in the browser's time zone. */
export function formatTime(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.` +
    `${pad(d.getMilliseconds(), 3)}`;
}

/** The value of an <input type="datetime-local" step="0.001"> for epoch ms (local time), to
 * the millisecond, so a time from the URL goes back into the query unchanged. */
export function toLocalInput(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "";
  return formatTime(Number(ms)).replace(" ", "T");
}

/** Epoch ms of a datetime-local value, or null. */
export function fromLocalInput(text) {
  if (!text) return null;
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** "in 59 min", "in 3 h", "in 2 d". */
export function fromNow(ms) {
  const left = ms - Date.now();
  if (left <= 0) return "expired";
  if (left < 60_000) return `in ${Math.ceil(left / 1000)} s`;
  if (left < 3_600_000) return `in ${Math.round(left / 60_000)} min`;
  if (left < 172_800_000) return `in ${Math.round(left / 3_600_000)} h`;
  return `in ${Math.round(left / 86_400_000)} d`;
}
