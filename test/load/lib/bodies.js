// Request bodies for the k6 scripts: the same shapes as `luminate loadtest` sends
// (src/luminate/loadtest/scenarios.py). No k6 import here, so plain node can load this module
// (the project's tests do, and send what it builds to a real server).

const METRICS = ["api_latency", "http_requests_total", "queue_depth"];

// A small seeded generator (mulberry32), so every virtual user sends its own stable data.
export function random(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(next, n) {
  return Math.floor(next() * n);
}

// One write batch of `size` points at one instant: three metrics, high-cardinality dimensions.
export function writeBody(size, nowMs, seed, runId) {
  const next = random(seed);
  const metrics = [];
  for (let i = 0; i < size; i++) {
    const name = METRICS[i % METRICS.length];
    let value;
    if (name === "api_latency") {
      value = Math.round(Math.exp(3.4 + 0.8 * (next() + next() + next() - 1.5)) * 1000) / 1000;
    } else if (name === "http_requests_total") {
      value = 1 + pick(next, 10000000);
    } else {
      value = pick(next, 500);
    }
    metrics.push({
      name: name,
      timestamp: nowMs,
      value: value,
      dimensions: {
        customer_id: `cust_${pick(next, 1000)}`,
        endpoint: `/api/v1/resource_${pick(next, 50)}`,
        region: `region-${pick(next, 5)}`,
        user_id: `user_${pick(next, 1000000)}`,
        load_run: runId,
      },
    });
  }
  return JSON.stringify({ metrics: metrics });
}

// The dashboard mix over recent windows: average by endpoint (5m), p95 by region (15m), the
// latest raw points (1m), a per-minute request rate (15m).
export function queryBody(i, seed) {
  const next = random(seed + i);
  const filters = { customer_id: `cust_${pick(next, 1000)}` };
  switch (i % 4) {
    case 0:
      return JSON.stringify({
        queryType: "aggregate", metricName: "api_latency", timeRange: { relative: "5m" },
        filters: filters, aggregation: "avg", groupBy: ["endpoint"],
      });
    case 1:
      return JSON.stringify({
        queryType: "aggregate", metricName: "api_latency", timeRange: { relative: "15m" },
        aggregation: "p95", groupBy: ["region"],
      });
    case 2:
      return JSON.stringify({
        queryType: "range", metricName: "api_latency", timeRange: { relative: "1m" },
        filters: filters, limit: 100,
      });
    default:
      return JSON.stringify({
        queryType: "rate", metricName: "http_requests_total", timeRange: { relative: "15m" },
        filters: filters, interval: "1m",
      });
  }
}
