"""Pick the engine a --db value names: a private temporary SQLite database, a SQLite file, or PostgreSQL."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from mockserver.settings import POSTGRES_SCHEMES
from mockserver.spec import SpecIndex
from mockserver.store.base import Store
from mockserver.store.layout import plan_tables


def is_postgres(db: str | None) -> bool:
    """Whether a --db value names a PostgreSQL server rather than a SQLite file."""
    return bool(db) and str(db).startswith(tuple(f"{scheme}://" for scheme in POSTGRES_SCHEMES))


def open_store(index: SpecIndex, db: str | None = None) -> Store:
    """The store for a --db value: none is a private temporary SQLite database, a URL is PostgreSQL."""
    plans = plan_tables(index)
    api = str(index.document.get("info", {}).get("title", ""))
    if db and is_postgres(db):
        from mockserver.store.postgres import PostgresStore

        return PostgresStore(plans, db, api=api)
    from mockserver.store.sqlite import SqliteStore

    return SqliteStore(plans, Path(db) if db else None, api=api)


def peek_meta(db: str | None, key: str) -> str | None:
    """A value a database keeps about itself, read without opening it as a store.

    None when there is no such file, table or value, when the file is not SQLite, or when a PostgreSQL
    server does not answer at once: a caller uses it to skip work it would otherwise do, never to decide
    what the database holds.
    """
    if not db:
        return None
    if is_postgres(db):
        from mockserver.store.postgres import peek_postgres_meta

        return peek_postgres_meta(db, key)
    path = Path(db)
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1)) as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row is not None and isinstance(row[0], str) else None
