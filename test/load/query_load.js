// k6 query load test for Luminate (scripts/run-staging-load-test.sh runs it with LOAD_TOOL=k6).
//
//   k6 run --env BASE_URL=https://luminate-staging.example.com --env TOKEN=... \
//     --vus 100 --duration 10m test/load/query_load.js
//
// Each iteration sends one query of the dashboard mix (aggregate, range, rate over the last
// 1-15 minutes) to /api/v1/query; run write_load.js first or alongside so there is data.
// 429s are counted in `rate_limited`, not as failures; the run fails (k6 exits 99) when the
// query p95 exceeds P95_MS (default 500) or failures reach 1%.
import http from "k6/http";
import { check } from "k6";
import { Rate } from "k6/metrics";

import { queryBody } from "./lib/bodies.js";

const BASE_URL = __ENV.BASE_URL || "http://localhost:8080";
const TOKEN = __ENV.TOKEN || "";
const P95_MS = parseFloat(__ENV.P95_MS || "500");

const rateLimited = new Rate("rate_limited");
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 429));

export const options = {
  thresholds: {
    "http_req_duration{name:query}": [`p(95)<${P95_MS}`],
    http_req_failed: ["rate<0.01"],
  },
};

export function setup() {
  if (!TOKEN) {
    throw new Error("set TOKEN (--env TOKEN=...) to a token with the read scope");
  }
}

export default function () {
  const res = http.post(`${BASE_URL}/api/v1/query`, queryBody(__ITER, __VU), {
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    tags: { name: "query" },
  });
  rateLimited.add(res.status === 429);
  check(res, { "query answered": (r) => r.status === 200 || r.status === 429 });
}
