"""Scratch databases: seed one company fast in a throwaway SQLite file (often in a worker process), then merge it.

A scratch database has the store's tables but only the indexes the engine reads by while seeding
(the ``(company, id)`` key and the fields it looks records up by: references, unique and sequence
fields), no text index, no durable journal and a large cache. Nothing needs it after the merge
(``Store.absorb``), so its folder is removed when the seeding ends, whether or not it succeeded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mockserver.store.layout import TablePlan, identifier
from mockserver.store.sql import TallyRow
from mockserver.store.sqlite import SqliteStore, temporary_folder

_CACHE_KIB = 1 << 20  # up to 1 GiB of page cache: the whole scratch database stays in memory


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A private folder for scratch databases (in RAM where /dev/shm exists), removed at the end."""
    folder = temporary_folder()
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class ScratchStore(SqliteStore):
    """SQLite tuned for one writer whose work may be lost: lookup indexes only, no fsync, a big cache."""

    def _pragmas(self) -> tuple[str, ...]:
        """No WAL and no fsync: a crash loses the file, which is thrown away anyway."""
        return (
            "PRAGMA journal_mode = MEMORY",
            "PRAGMA synchronous = OFF",
            f"PRAGMA cache_size = -{_CACHE_KIB}",
            "PRAGMA temp_store = MEMORY",
        )

    def _index_statements(self, plan: TablePlan) -> list[str]:
        """Only the equality indexes of the fields the engine looks records up by."""
        table = plan.table
        return [
            f"CREATE INDEX IF NOT EXISTS {identifier('ix', table, name)} ON {table} (company, {field.column}, id)"
            for name, field in plan.fields.items()
            if field.looked_up and field.column
        ]

    def _create_text_index(self, connection: Any, plan: TablePlan) -> None:
        """None: seeding does not search, and the target store builds its own text index."""

    def _rebuild_text_index(self, run: Any, plan: TablePlan) -> None:
        """None: there is no text index here."""

    def raw_rows(self, plan: TablePlan) -> Iterator[tuple[Any, ...]]:
        """Every row of a table as SQLite stores it (company, id, document, columns), in key order."""
        columns = "".join(f", {field.column}" for field in plan.columns)
        with self._checked_out() as connection:
            yield from connection.execute(f"SELECT company, id, doc{columns} FROM {plan.table} ORDER BY company, id")

    def tally_rows(self, plan: TablePlan) -> list[TallyRow]:
        """The counts of a table's records and tallied values (settled by the scratch's own bulk load)."""
        with self._checked_out() as connection:
            rows = connection.execute(
                "SELECT company, field, value, n FROM tally WHERE resource = ? ORDER BY company, field, value",
                (plan.resource,),
            ).fetchall()
        return [(int(company), str(name), str(value), int(n)) for company, name, value, n in rows]

    def counter_rows(self) -> list[tuple[int, str, int]]:
        """Every counter (company, name, value)."""
        with self._checked_out() as connection:
            rows = connection.execute("SELECT company, name, value FROM counters ORDER BY company, name").fetchall()
        return [(int(company), str(name), int(value)) for company, name, value in rows]
