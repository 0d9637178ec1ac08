"""Pick the engine a --db value names: a private temporary SQLite database, a SQLite file, or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from mockserver.spec import SpecIndex
from mockserver.store.base import Store
from mockserver.store.layout import plan_tables


def is_postgres(db: str | None) -> bool:
    """Whether a --db value names a PostgreSQL server rather than a SQLite file."""
    return bool(db) and str(db).startswith(("postgresql://", "postgres://"))


def open_store(index: SpecIndex, db: str | None = None) -> Store:
    """The store for a --db value: none is a private temporary SQLite database, a URL is PostgreSQL."""
    plans = plan_tables(index)
    api = str(index.document.get("info", {}).get("title", ""))
    if db and is_postgres(db):
        from mockserver.store.postgres import PostgresStore

        return PostgresStore(plans, db, api=api)
    from mockserver.store.sqlite import SqliteStore

    return SqliteStore(plans, Path(db) if db else None, api=api)
