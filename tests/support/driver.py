"""clickhouse-driver's column writer without a server: what it would put on the wire."""

from __future__ import annotations

from clickhouse_driver import Client
from clickhouse_driver.context import Context

from luminate.storage.native import STRINGS_AS_BYTES


def writer_context(*, as_bytes: bool) -> Context:
    """The context the driver writes insert columns under, with `strings_as_bytes` set or not
    and the driver's defaults otherwise."""
    context = Context()
    settings = dict(Client("127.0.0.1").client_settings)  # a Client connects only when used
    settings[STRINGS_AS_BYTES] = as_bytes
    context.client_settings = settings
    context.settings = {}
    return context
