// k6 write load test for Luminate (scripts/run-staging-load-test.sh runs it with LOAD_TOOL=k6).
//
//   k6 run --env BASE_URL=https://luminate-staging.example.com --env TOKEN=... \
//     --vus 200 --duration 10m test/load/write_load.js
//
// Each iteration writes one batch of BATCH_SIZE points (default 500) to /api/v1/write. 429s
// are not failures (they are counted in `rate_limited`); any other non-2xx answer is. The run
// fails (k6 exits 99) when the write p95 exceeds P95_MS (default 100) or failures reach 1%.
import http from "k6/http";
import { check } from "k6";
import { Rate } from "k6/metrics";

import { writeBody } from "./lib/bodies.js";

const BASE_URL = __ENV.BASE_URL || "http://localhost:8080";
const TOKEN = __ENV.TOKEN || "";
const BATCH_SIZE = parseInt(__ENV.BATCH_SIZE || "500", 10);
const P95_MS = parseFloat(__ENV.P95_MS || "100");
const RUN_ID = __ENV.RUN_ID || `k6-${Date.now()}`;

const rateLimited = new Rate("rate_limited");
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 429));

export const options = {
  thresholds: {
    "http_req_duration{name:write}": [`p(95)<${P95_MS}`],
    http_req_failed: ["rate<0.01"],
  },
};

export function setup() {
  if (!TOKEN) {
    throw new Error("set TOKEN (--env TOKEN=...) to a token with the write scope");
  }
}

export default function () {
  const body = writeBody(BATCH_SIZE, Date.now(), __VU * 1000003 + __ITER, RUN_ID);
  const res = http.post(`${BASE_URL}/api/v1/write`, body, {
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    tags: { name: "write" },
  });
  rateLimited.add(res.status === 429);
  check(res, { "write accepted": (r) => r.status === 200 || r.status === 429 });
}
