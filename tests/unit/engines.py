"""The store engines a unit test of shared values runs on, by name: one way to open each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mockserver.store import Ephemera
from mockserver.store.ephemera import MemoryEphemera
from mockserver.store.sqlite import SqliteStore


@contextmanager
def ephemera_on(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ephemera]:
    """Shared values on ``memory``, ``sqlite-temporary``, ``sqlite-file`` (or ``sqlite``) or ``postgres``."""
    if engine == "memory":
        yield MemoryEphemera()
        return
    if engine == "postgres":
        from postgres import fresh_database

        from mockserver.store.postgres import PostgresStore

        store: SqliteStore | PostgresStore = PostgresStore({}, fresh_database(request))
    else:
        store = SqliteStore({}, None if engine == "sqlite-temporary" else tmp_path / "state.db")
    try:
        yield store.ephemera
    finally:
        store.close()
