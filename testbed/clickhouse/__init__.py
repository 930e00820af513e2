"""A loopback ClickHouse cluster for tests and benchmarks, rendered from the templates production
ships: `python -m testbed.clickhouse --help`, or `LoopbackCluster` in-process."""
