"""What a SQLite database owes after a commit: indexes a bulk load left out, rows its text index has not caught up with.

A write does not index its row's text itself (FTS5 would write a segment of its index in every
transaction): a new row takes a row id past the table's text mark (the highest row id the text index
has taken in, kept in ``meta``), and an update or a delete notes its row in ``text_pending``. A bulk
load that fills a table with many rows (a seed at scale) commits them without the table's B-tree
indexes and text index: the sandbox serves as soon as the rows are committed, since every read is
right without them, only slower. The upkeep thread then
pays the backlog off one bounded step at a time (an index, or the text of a few thousand rows), each in
a write transaction of its own, so a request's write never waits long behind it. ``pay_all`` pays
everything at once (``Store.catch_up``, ``mockserver seed``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any

from mockserver.store.layout import TablePlan, identifier, safe_field

TEXT_CHUNK = 10_000  # pending rows one step indexes (about a tenth of a second of the write lock)
FTS_HASH = 1 << 20  # FTS5's own default: pending terms it holds before writing a segment
FTS_BULK_HASH = 64 << 20  # the same while many rows are indexed in one statement
ANALYSIS_LIMIT = 2_000  # rows ANALYZE samples per index: statistics good enough for the planner, fast

TEXT_MARK = "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?)"  # a table's text mark (bind ``text_mark_key``)

IndexSql = Callable[[TablePlan], list[tuple[str, str]]]  # a table's indexes: (name, CREATE INDEX IF NOT EXISTS ...)
Run = Callable[..., Any]  # a connection's execute
# Opens a write transaction on the given connection (the store's queue for the write lock, or a plain BEGIN).
Writing = Callable[[sqlite3.Connection], AbstractContextManager[Any]]


@contextmanager
def begun(connection: sqlite3.Connection, begin: str) -> Iterator[None]:
    """A transaction begun with ``begin``: committed at the end, rolled back if anything is raised."""
    connection.execute(begin)
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _begin_immediate(connection: sqlite3.Connection) -> AbstractContextManager[None]:
    return begun(connection, "BEGIN IMMEDIATE")


def json_path(name: str) -> str:
    """The literal JSON path of a field whose name ``safe_field`` admitted (others are bound as parameters)."""
    if not safe_field(name):
        raise ValueError(f"{name!r} cannot be part of an SQL literal")
    return "'$." + '"' + name + '"' + "'"


def text_mark_key(table: str) -> str:
    """The ``meta`` key of a table's text mark: rows past it are not in its text index yet (searches scan them)."""
    return f"text-mark:{table}"


def set_text_mark(run: Run, table: str, mark: int | None = None) -> None:
    """Set a table's text mark (default: its highest row id, when the text index holds every row)."""
    if mark is None:
        mark = int(run(f"SELECT coalesce(max(rid), 0) FROM {table}", ()).fetchone()[0])
    run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (text_mark_key(table), str(mark)))


def text_rows_sql(plan: TablePlan, where: str) -> str:
    """INSERT into a table's text index the search text of its rows (``where`` picks which; empty: all)."""
    columns = ", ".join(f'"{f}"' for f in plan.search_fields)
    values = ", ".join(f"coalesce(json_extract(doc, {json_path(f)}), '')" for f in plan.search_fields)
    return (
        f"INSERT INTO {identifier(plan.table, 'fts')} (rowid, {columns}) SELECT rid, {values} FROM {plan.table} {where}"
    )


def index_text_in_bulk(run: Run, plan: TablePlan, where: str, params: tuple[Any, ...] = ()) -> None:
    """Index many rows' text in one statement (``text_rows_sql``) with a large term buffer.

    FTS5 writes its pending terms out as a new segment whenever they pass ``hashsize`` (1 MiB by
    default) and merges segments as they pile up; a large hash writes a few big segments instead (the
    text indexes at scale 1000: about 3.5 -> 3.0 s), and the default comes back after. The segments
    are then merged into one, which FTS5 puts a level above the new text's: left on the level where
    the upkeep's small segments arrive, they were merged with 15 of those in one upkeep step, under
    the write lock (at a million records 1.2-2 s, and a checkpoint of the 80 MB it wrote, 2.7 s).
    """
    fts = identifier(plan.table, "fts")
    run(f"INSERT INTO {fts} ({fts}, rank) VALUES ('hashsize', ?)", (FTS_BULK_HASH,))
    run(text_rows_sql(plan, where), params)
    run(f"INSERT INTO {fts} ({fts}, rank) VALUES ('hashsize', ?)", (FTS_HASH,))
    run(f"INSERT INTO {fts} ({fts}) VALUES ('optimize')", ())


def analyze(run: Run) -> None:
    """Statistics for the planner (a filtered, sorted page picks the right index), none for the text indexes' tables."""
    run(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}", ())
    run("ANALYZE", ())
    forget_text_index_statistics(run)


# The tables FTS5 keeps each text index in ("shadow tables"), by the suffix it gives the index's name.
_FTS5_SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")
_TEXT_INDEX_STATISTICS = (
    "DELETE FROM sqlite_stat1 WHERE tbl IN (SELECT v.name || s.suffix FROM sqlite_master v, "
    "(SELECT column1 AS suffix FROM (VALUES " + ", ".join(f"('{suffix}')" for suffix in _FTS5_SHADOW_SUFFIXES) + ")) s "
    "WHERE v.type = 'table' AND v.sql LIKE 'CREATE VIRTUAL TABLE % USING fts5%')"
)


def forget_text_index_statistics(run: Run) -> None:
    """Drop what ANALYZE recorded about FTS5's own tables, so the planner plans FTS5's queries as FTS5 expects.

    ANALYZE ran while a bulk load's text index was still empty and recorded its ``_data`` table as 2
    rows; planned on that, FTS5's merge of 16 small segments (every 16th text step) read the whole
    index: 360-700 ms at a million records, against under 50 ms without the statistics.
    """
    exists = run("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'", ()).fetchone()
    if exists is not None and run(_TEXT_INDEX_STATISTICS, ()).rowcount > 0:
        run("ANALYZE sqlite_master", ())  # this connection plans with the statistics as they are now


_TABLES_A_STATEMENT = 100  # SQLite allows 500 terms in a compound SELECT


@lru_cache(maxsize=64)
def _past_mark_sql(tables: tuple[str, ...]) -> str:
    """The names of those tables holding a row past their text mark (bind each name, then its mark's key)."""
    return " UNION ALL ".join(
        f"SELECT ? WHERE EXISTS (SELECT 1 FROM {table} WHERE rid > coalesce({TEXT_MARK}, 0))" for table in tables
    )


class Backlog:
    """The indexes one database lacks and the text it has not indexed, for the tables of a store's plans."""

    def __init__(self, plans: Mapping[str, TablePlan], index_sql: IndexSql) -> None:
        self._plans = plans  # the store's own (it grows when an import brings a resource the spec lacks)
        self._index_sql = index_sql
        self._wanted: dict[str, list[tuple[str, str]]] = {}  # table -> its indexes (a plan never changes)
        # (schema version, plans) when the database last had every index: until either changes, none is missing.
        self._whole_at: tuple[int, int] | None = None

    def missing_indexes(self, run: Run) -> list[str]:
        """The CREATE statements of every index the plans want and the database does not have."""
        present = {name for (name,) in run("SELECT name FROM sqlite_master WHERE type = 'index'", ()).fetchall()}
        for plan in list(self._plans.values()):
            if plan.table not in self._wanted:
                self._wanted[plan.table] = self._index_sql(plan)
        return [sql for wanted in list(self._wanted.values()) for name, sql in wanted if name not in present]

    def owed(self, run: Run) -> bool:
        """Whether anything is left to do."""
        return bool(self.missing_indexes(run)) or bool(self.tables_owing_text(run))

    def tables_owing_text(self, run: Run) -> list[str]:
        """The tables with rows noted in ``text_pending`` or past their text mark (one statement per 100 tables)."""
        searchable = tuple(plan.table for plan in list(self._plans.values()) if plan.search_fields)
        owing = {str(table) for (table,) in run("SELECT DISTINCT tbl FROM text_pending", ()).fetchall()}
        for start in range(0, len(searchable), _TABLES_A_STATEMENT):
            tables = searchable[start : start + _TABLES_A_STATEMENT]
            parameters = [value for table in tables for value in (table, text_mark_key(table))]
            owing.update(str(table) for (table,) in run(_past_mark_sql(tables), parameters).fetchall())
        return sorted(owing)

    def step(self, connection: sqlite3.Connection, writing: Writing | None = None) -> bool:
        """Pay one piece off in a write transaction of its own (an index, or some rows' text); True: more is left.

        ``writing`` opens that transaction (default: ``BEGIN IMMEDIATE``, SQLite's busy handler orders it
        among other writers). The last index made runs ANALYZE, so the planner knows the new indexes.
        Text written since the last step is all indexed in one step (a chunk at most), so a steady
        stream of writes is caught up once per upkeep round, not in a step every few milliseconds: each
        step pays for reading the text index's structure again (caches emptied by other commits) and
        for a checkpoint after it (two workers: 10 rows a step at 190 us each against 65 in bulk).
        """
        write = writing if writing is not None else _begin_immediate
        missing = self._missing_since_schema_changed(connection)
        if missing:
            with write(connection):
                connection.execute(missing[0])
                if len(missing) == 1:
                    analyze(connection.execute)
            return True
        owing = self.tables_owing_text(connection.execute)
        if not owing:
            return False
        with write(connection):
            self._index_text(connection.execute, owing[0], TEXT_CHUNK)
        return bool(self.tables_owing_text(connection.execute))  # asked after the commit: the lock is the writers'

    def _missing_since_schema_changed(self, connection: sqlite3.Connection) -> list[str]:
        """``missing_indexes``, skipped while the schema has not changed since none was missing.

        Reading every index's name from ``sqlite_master`` cost each upkeep step about 0.6 ms of CPU.
        """
        version = connection.execute("PRAGMA schema_version").fetchone()[0]
        stamp = (int(version), len(self._plans))
        if stamp == self._whole_at:
            return []
        missing = self.missing_indexes(connection.execute)
        self._whole_at = None if missing else stamp
        return missing

    def pay_all(self, run: Run) -> None:
        """Inside a write transaction: make every missing index and index every pending row's text."""
        missing = self.missing_indexes(run)
        for sql in missing:
            run(sql, ())
        if missing:
            analyze(run)
        for table in self.tables_owing_text(run):
            self._index_text(run, table, None)

    def _index_text(self, run: Run, table: str, limit: int | None) -> None:
        """Catch a table's text index up: ``limit`` noted rows at most, then as many rows past its mark.

        Noted rows at or below the mark are indexed again as they are now (not at all if deleted).
        Rows past the mark are added and the mark moved past them; a note of a row past the mark
        is dropped once the mark passes it (the index never held that row, and now holds it as it is).
        """
        plan = next((plan for plan in list(self._plans.values()) if plan.table == table), None)
        if plan is None or not plan.search_fields:
            run("DELETE FROM text_pending WHERE tbl = ?", (table,))
            return
        fts = identifier(table, "fts")
        mark = int(run(f"SELECT coalesce({TEXT_MARK}, 0)", (text_mark_key(table),)).fetchone()[0])
        upto = f" AND rid <= {mark}"
        if limit is not None:
            last = run(
                f"SELECT rid FROM text_pending WHERE tbl = ?{upto} ORDER BY rid LIMIT 1 OFFSET ?", (table, limit - 1)
            ).fetchone()
            upto = upto if last is None else f" AND rid <= {int(last[0])}"
        pending = f"IN (SELECT rid FROM text_pending WHERE tbl = ?{upto})"
        run(f"DELETE FROM {fts} WHERE rowid {pending}", (table,))
        run(text_rows_sql(plan, f"WHERE rid {pending}"), (table,))
        run(f"DELETE FROM text_pending WHERE tbl = ?{upto}", (table,))
        taken, last_taken = run(
            f"SELECT count(*), max(rid) FROM (SELECT rid FROM {table} WHERE rid > ? ORDER BY rid LIMIT ?)",
            (mark, -1 if limit is None else limit),
        ).fetchone()
        if taken:
            beyond = f"rowid > {mark} AND rowid <= {int(last_taken)}"
            run(f"DELETE FROM {fts} WHERE {beyond}", ())  # nothing, unless a mark was lost: never a row twice
            added = f"WHERE rid > {mark} AND rid <= {int(last_taken)}"
            if limit is None:  # everything at once (a big seed's table): a large term buffer, then merged
                index_text_in_bulk(run, plan, added)
            else:
                run(text_rows_sql(plan, added), ())
            set_text_mark(run, table, int(last_taken))
        caught_up = limit is None or taken < limit
        passed = "" if caught_up else f" AND rid <= {int(last_taken)}"  # caught up: notes past the mark name no row
        run(f"DELETE FROM text_pending WHERE tbl = ? AND rid > ?{passed}", (table, mark))
