"""State behind one small interface, on real engines: SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

from mockserver.store.base import (
    Change,
    Condition,
    Ephemera,
    Operator,
    Order,
    Page,
    Query,
    Record,
    RecordId,
    Store,
    StoreError,
    StoreUnavailable,
    Tenant,
)
from mockserver.store.engines import is_postgres, open_store, peek_meta
from mockserver.store.scratch import ScratchStore, scratch_folder

__all__ = [
    "Change",
    "Condition",
    "Ephemera",
    "Operator",
    "Order",
    "Page",
    "Query",
    "Record",
    "RecordId",
    "ScratchStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Tenant",
    "is_postgres",
    "open_store",
    "peek_meta",
    "scratch_folder",
]
