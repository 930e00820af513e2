"""`luminate loadtest`: a multi-process HTTP load generator for Luminate deployments, with
realistic write and query scenarios, pass/fail thresholds, a JSON summary and a chart."""
