"""Prometheus remote_write 1.0 bodies (a snappy-compressed `prometheus.WriteRequest`), built with
the protobuf library from the message definitions of Prometheus' `prompb/types.proto`."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


@cache
def _write_request() -> Any:
    proto = descriptor_pb2.FileDescriptorProto(
        name="bench_prompb.proto", package="prometheus", syntax="proto3"
    )

    def message(name: str, fields: list[tuple[str, int, int, str | None, bool]]) -> None:
        m = proto.message_type.add(name=name)
        for fname, number, ftype, type_name, repeated in fields:
            f = m.field.add(name=fname, number=number, type=ftype)
            f.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            if type_name:
                f.type_name = type_name

    message(
        "Label",
        [("name", 1, _F.TYPE_STRING, None, False), ("value", 2, _F.TYPE_STRING, None, False)],
    )
    message(
        "Sample",
        [("value", 1, _F.TYPE_DOUBLE, None, False), ("timestamp", 2, _F.TYPE_INT64, None, False)],
    )
    message(
        "TimeSeries",
        [
            ("labels", 1, _F.TYPE_MESSAGE, ".prometheus.Label", True),
            ("samples", 2, _F.TYPE_MESSAGE, ".prometheus.Sample", True),
        ],
    )
    message("WriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, ".prometheus.TimeSeries", True)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


def encode(
    metric: str,
    keys: Sequence[str],
    dims: Sequence[Sequence[str]],
    stamps: Sequence[int],
    values: Sequence[float],
) -> bytes:
    """One series per point (labels sorted by name, as Prometheus requires)."""
    request = _write_request()()
    order = sorted(range(len(keys)), key=keys.__getitem__)
    names = ["__name__", *(keys[i] for i in order)]
    for i, (t, v) in enumerate(zip(stamps, values, strict=True)):
        ts = request.timeseries.add()
        label_values = [metric, *(dims[j][i] for j in order)]
        for n, lv in zip(names, label_values, strict=True):
            ts.labels.add(name=n, value=lv)
        ts.samples.add(value=v, timestamp=t)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
