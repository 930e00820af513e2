"""Luminate: a multi-tenant, high-cardinality metrics service on the ClickHouse engine."""

from __future__ import annotations

__version__ = "0.1.0"
