"""State behind one small interface, on real engines: SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

from mockserver.store.base import (
    Condition,
    Ephemera,
    Order,
    Page,
    Query,
    Record,
    RecordId,
    Store,
    StoreError,
    Tenant,
)
from mockserver.store.engines import is_postgres, open_store

__all__ = [
    "Condition",
    "Ephemera",
    "Order",
    "Page",
    "Query",
    "Record",
    "RecordId",
    "Store",
    "StoreError",
    "Tenant",
    "is_postgres",
    "open_store",
]
