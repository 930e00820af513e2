"""Reading one sample of a Prometheus registry, as a test asserts on Luminate's own metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """The current value of sample `name` with exactly `labels` (0 when it was never set)."""
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
