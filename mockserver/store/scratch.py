"""Scratch databases: seed one company fast in a throwaway SQLite file (often in a worker process), then merge it.

A scratch database has the store's tables but only the indexes the engine reads by while seeding:
the ``(company, id)`` key, and the index of a field the engine looks records up by (a sequence or
unique field, a payment's invoice), made when it first does, so the references seeding never looks
up (about thirty of them) cost no index upkeep per insert. No text index, no durable journal, a large
cache. A lookup, or whether a number or unique value is taken, first asks the set of the values the
field holds, read once and kept up as records are written (most of seeding's lookups find nothing).
Nothing needs the database after the merge (``Store.absorb``), so its folder is removed when the
seeding ends, whether or not it succeeded.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mockserver.store.base import Record, RecordId, Tenant
from mockserver.store.layout import FieldKind, TablePlan, identifier
from mockserver.store.snapshot import Execute
from mockserver.store.sql import TallyRow, looked_up_column
from mockserver.store.sqlite import SqliteStore, SqliteTenant, temporary_folder

# company -> resource -> field -> (its kind, the values that company's records hold in its column)
PresentValues = dict[int, dict[str, dict[str, tuple[FieldKind, set[Any]]]]]

_CACHE_KIB = 1 << 20  # up to 1 GiB of page cache: the whole scratch database stays in memory
_PAGE_BYTES = 16 << 10  # fewer, larger pages for documents of about a kilobyte


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A private folder for scratch databases (in RAM where /dev/shm exists), removed at the end."""
    folder = temporary_folder()
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class ScratchStore(SqliteStore):
    """SQLite tuned for one writer whose work may be lost: lookup indexes only, no fsync, a big cache, big pages."""

    bulk_cache_kib = _CACHE_KIB
    upkeep_in_thread = False  # no WAL and no text index here
    shared_by_processes = False  # one writer: no lock file beside it

    def _pragmas(self) -> tuple[str, ...]:
        """No WAL and no fsync: a crash loses the file, which is thrown away anyway. 16 KiB pages: inserts -15%."""
        return (
            f"PRAGMA page_size = {_PAGE_BYTES}",  # takes effect on the new file, before its first table
            "PRAGMA journal_mode = MEMORY",
            "PRAGMA synchronous = OFF",
            f"PRAGMA cache_size = -{_CACHE_KIB}",
            "PRAGMA temp_store = MEMORY",
        )

    def __init__(self, plans: dict[str, TablePlan], path: Path | None = None, *, api: str = "") -> None:
        self._indexed: set[tuple[str, str]] = set()  # (table, field) indexed so far: one writer, no lock
        self._present: PresentValues = {}
        super().__init__(plans, path, api=api)

    def _index_statements(self, plan: TablePlan) -> list[tuple[str, str]]:
        """None up front: ``_lookup_index`` makes each lookup index when seeding first looks a field up."""
        return []

    def _prune_indexes(self, connection: Any, plan: TablePlan) -> None:
        """None: the lookup indexes here are made as seeding needs them, never planned."""

    @contextmanager
    def tenant(self, company_id: int, *, write: bool = True, lazy: bool = False) -> Iterator[Tenant]:
        """A write transaction whose tenant indexes a field before its first lookup."""
        with self._transaction(write=True) as connection:
            run = connection.execute

            def index(plan: TablePlan, name: str) -> None:
                self._lookup_index(run, plan, name)

            yield ScratchTenant(
                company_id, run, self.dialect, self.plan, self._bulk_load(), index=index, present=self._present
            )

    def _lookup_index(self, run: Execute, plan: TablePlan, name: str) -> None:
        """Make the equality index of a looked-up field the first time (inside the caller's transaction)."""
        field = plan.fields.get(name)
        if field is None or not field.column or (plan.table, name) in self._indexed:
            return
        table = plan.table
        run(f"CREATE INDEX IF NOT EXISTS {identifier('ix', table, name)} ON {table} (company, {field.column}, id)", ())
        self._indexed.add((table, name))

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


class ScratchTenant(SqliteTenant):
    """A scratch database's tenant: lookups and ``taken`` first ask the set of values the field holds.

    This tenant is the scratch database's one writer, so a field's set, read at its first question and
    kept up as records are put, holds every value a record has there (and any a later write changed
    or deleted: those only cost a query). A value outside it is answered without a query: most of
    seeding's lookups (an invoice's payments while payments are not seeded yet, a number or an email
    not in use) find nothing.
    """

    def __init__(self, *args: Any, index: Callable[[TablePlan, str], None], present: PresentValues) -> None:
        super().__init__(*args)
        self._index = index
        self._present = present.setdefault(self.company_id, {})

    def put(self, resource: str, record_id: RecordId, record: Record) -> Record:
        """Store a record; its values of the fields asked about join those fields' sets."""
        stored = super().put(resource, record_id, record)
        fields = self._present.get(resource)
        if fields:
            for name, (kind, values) in fields.items():
                value = self._dialect.column_value(kind, record.get(name))
                if value is not None:
                    values.add(value)
        return stored

    def taken(self, resource: str, field_name: str, value: Any) -> bool:
        """Whether the string is in the field's set (a value a later write changed or deleted still counts)."""
        known = self._values(resource, field_name, value) if type(value) is str else None
        return super().taken(resource, field_name, value) if known is None else value in known[1]

    def lookup(self, resource: str, field_name: str, value: Any) -> list[Record]:
        """Records whose field equals a value: none without a query when the field's set lacks it."""
        known = self._values(resource, field_name, value)
        if known is not None and self._dialect.bind(known[0], value) not in known[1]:
            return []
        self._index(self._plans(resource), field_name)
        return super().lookup(resource, field_name, value)

    def _values(self, resource: str, field_name: str, value: Any) -> tuple[FieldKind, set[Any]] | None:
        """The field's kind and the values its column holds, read the first time (None: the question goes to SQL).

        Only a string or integer compared with a column: as a column stores it, it equals what SQL
        would find equal.
        """
        if type(value) is not str and type(value) is not int:
            return None
        plan = self._plans(resource)
        column = looked_up_column(plan, field_name)
        if column is None:
            return None
        kind, name = column
        fields = self._present.setdefault(resource, {})
        known = fields.get(field_name)
        if known is None:
            rows = self._run(f"SELECT {name} FROM {plan.table} WHERE company = ?", (self.company_id,))
            known = fields[field_name] = (kind, {row[0] for row in rows.fetchall() if row[0] is not None})
        return known
