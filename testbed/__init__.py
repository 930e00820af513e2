"""Real servers started on loopback for tests and benchmarks (never shipped in the package)."""
