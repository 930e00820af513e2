"""Prometheus remote_write 1.0 bodies (a snappy-compressed `prometheus.WriteRequest`), built with
the same generated messages the service decodes them with."""

from __future__ import annotations

from collections.abc import Sequence

import cramjam
from opentelemetry.exporter.prometheus_remote_write.gen.remote_pb2 import WriteRequest


def encode(
    metric: str,
    keys: Sequence[str],
    dims: Sequence[Sequence[str]],
    stamps: Sequence[int],
    values: Sequence[float],
) -> bytes:
    """One series per point (labels sorted by name, as Prometheus requires)."""
    request = WriteRequest()
    order = sorted(range(len(keys)), key=keys.__getitem__)
    names = ["__name__", *(keys[i] for i in order)]
    for i, (t, v) in enumerate(zip(stamps, values, strict=True)):
        ts = request.timeseries.add()
        label_values = [metric, *(dims[j][i] for j in order)]
        for n, lv in zip(names, label_values, strict=True):
            ts.labels.add(name=n, value=lv)
        ts.samples.add(value=v, timestamp=t)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
