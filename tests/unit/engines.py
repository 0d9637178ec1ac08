"""The store engines a unit test runs on, by name: one way to open each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mockserver.store import Ephemera, Store
from mockserver.store.ephemera import MemoryEphemera
from mockserver.store.layout import TablePlan
from mockserver.store.sqlite import SqliteStore


def open_store(
    engine: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    plans: dict[str, TablePlan] | None = None,
    api: str = "",
) -> tuple[Store, str | None]:
    """A store of ``plans`` on a new ``sqlite-temporary``, ``sqlite-file`` (or ``sqlite``) or ``postgres`` database.

    With where that database is (None for a temporary one), for tests that open it again another way.
    """
    plans = plans if plans is not None else {}
    if engine == "postgres":
        from postgres import fresh_database

        from mockserver.store.postgres import PostgresStore

        url = fresh_database(request)
        return PostgresStore(plans, url, api=api), url
    if engine == "sqlite-temporary":
        return SqliteStore(plans, api=api), None
    path = tmp_path / "state.db"
    return SqliteStore(plans, path, api=api), str(path)


@contextmanager
def ephemera_on(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ephemera]:
    """Shared values on ``memory``, or on a store of ``open_store``'s engines."""
    if engine == "memory":
        yield MemoryEphemera()
        return
    store, _ = open_store(engine, request, tmp_path)
    try:
        yield store.ephemera
    finally:
        store.close()
