"""Building remote_write requests the way Prometheus sends them."""

from __future__ import annotations

import struct

import cramjam
import httpx
from opentelemetry.exporter.prometheus_remote_write.gen.remote_pb2 import WriteRequest

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]

Series = tuple[list[tuple[str, str]], list[tuple[int, float]]]


def request(series: list[Series]) -> bytes:
    """The protobuf WriteRequest for (labels, samples) pairs, labels in the order given."""
    out = WriteRequest()
    for labels, samples in series:
        ts = out.timeseries.add()
        for name, value in labels:
            label = ts.labels.add()
            label.name, label.value = name, value
        for t, v in samples:
            sample = ts.samples.add()
            sample.timestamp, sample.value = t, v
    return bytes(out.SerializeToString())


def snappy(raw: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(raw))


def push(url: str, token: str, body: bytes, encoding: str = "snappy") -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
    if encoding:
        headers["Content-Encoding"] = encoding
    return httpx.post(f"{url}/api/v1/push", content=body, headers=headers, timeout=60)
