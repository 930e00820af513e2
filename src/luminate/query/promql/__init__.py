"""PromQL evaluation over series read from storage: steps, lookback, range functions,
aggregations, binary operators and histogram quantiles, with Prometheus 2.x semantics."""
