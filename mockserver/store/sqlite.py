"""The embedded engine: the standard library's sqlite3, one connection per thread, WAL mode.

Without a path the database lives in a private temporary folder (in RAM where the system has
``/dev/shm``) that is removed when the store closes, so the sandbox starts with nothing on disk.
With a path the state survives restarts and several worker processes share it. Readers never wait
(WAL); a process's writers take turns and share commits (``groupcommit``), processes queue for
the write lock on a lock file beside the database, and SQLite itself has the last word (``BEGIN
IMMEDIATE`` with a busy timeout).
Indexed fields are copied into columns of their own; search uses FTS5's trigram tokenizer.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockserver.jsonio import dumps
from mockserver.store.backlog import (
    TEXT_MARK,
    Backlog,
    analyze,
    begun,
    forget_text_index_statistics,
    index_text_in_bulk,
    json_path,
    set_text_mark,
    text_mark_key,
)
from mockserver.store.base import StoreError, Tenant
from mockserver.store.ephemera import SqlEphemera
from mockserver.store.forking import enter_sqlite, inside_sqlite, leave_sqlite
from mockserver.store.groupcommit import GroupCommit
from mockserver.store.idblocks import BLOCK, IdBlocks
from mockserver.store.layout import FieldKind, TablePlan, identifier
from mockserver.store.rowversions import RowVersions
from mockserver.store.signals import open_signals
from mockserver.store.snapshot import SqlState
from mockserver.store.sql import (
    ID_COUNTER_SUFFIX,
    INT64,
    TOTAL,
    BulkLoad,
    Run,
    SqlTenant,
    insert_sql,
    like_pattern,
    plain_id,
    upsert_sql,
)
from mockserver.store.upkeep import SAFETY_NET_PAGES, Upkeep

if TYPE_CHECKING:
    from mockserver.store.scratch import ScratchStore

log = logging.getLogger("mockserver")
_BUSY_MS = 30_000
_POOL_IDLE = 16
_CLOSE_WAIT_SECONDS = 30  # how long close waits for connections other threads have checked out
_TEMPORARY_PREFIX = "invoice-sandbox-"
_BULK_CACHE_KIB = 512 << 10  # page cache during a bulk load (given back after it)
# A table a bulk load fills with this many rows gets its indexes after the commit: at scale 1000 every
# seeded table (10k-80k rows) does, which took the start 0.6-0.8 s sooner than from 25k rows on (bench/README.md).
_DEFER_FROM_ROWS = 5_000
_SHARED_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (company INTEGER NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, "
    "PRIMARY KEY (company, name))",
    "CREATE TABLE IF NOT EXISTS tally (company INTEGER NOT NULL, resource TEXT NOT NULL, field TEXT NOT NULL, "
    "value TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (company, resource, field, value))",
    "CREATE TABLE IF NOT EXISTS ephemera (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
    "expires REAL NOT NULL, PRIMARY KEY (namespace, key))",
    "CREATE INDEX IF NOT EXISTS ephemera_expiry ON ephemera (expires)",
    # Rows changed or deleted since the text index last caught up (``backlog``): searched by a scan, as are
    # the rows past the table's text mark (new ones).
    "CREATE TABLE IF NOT EXISTS text_pending (tbl TEXT NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY (tbl, rid)) "
    "WITHOUT ROWID",
)
_LIKE_ESCAPE = "ESCAPE '\\'"  # the escape character of ``like_pattern``
_LOOKUP_PER_PROBE = 25  # a row looked up by its id costs about this many index entries tested (``search_walks``)
_FOLD = "sandbox_fold"  # lower-cases any text as the trigram tokenizer does (SQLite's lower() knows only ASCII)


class SqliteDialect:
    """json_extract expressions, FTS5 trigram search, values bound as SQLite stores them."""

    no_limit = "LIMIT -1"
    document_text = "doc"  # the stored document as JSON text, served as it is

    def value(self, plan: TablePlan, name: str, *, in_document: bool = False) -> tuple[str, list[Any]]:
        """An indexed field's column; any other field (or any ``in_document``) read with a bound JSON path."""
        field = plan.fields.get(name)
        if field is not None and field.column and not in_document:
            return f"t.{field.column}", []
        return "json_extract(t.doc, ?)", ['$."' + name + '"']

    def sort_key(self, plan: TablePlan, name: str, descending: bool) -> tuple[str, list[Any]]:
        """Text sorts case-insensitively; ascending puts NULL after every value with a blob sentinel.

        A field every record holds (``present``) needs no sentinel: its one index serves both directions.
        """
        value, params = self.value(plan, name)
        if plan.kind_of(name) == "text":
            value = f"lower({value})"
        field = plan.fields.get(name)
        if descending or (field is not None and field.present):
            return value, params
        return f"coalesce({value}, x'ff')", params

    def bind(self, kind: FieldKind, value: Any) -> Any:
        """Booleans compare as 1/0, containers as their JSON text, and an integer beyond 64 bits as infinity.

        SQLite stores no integer that large, so an infinity keeps every comparison right (equal to
        nothing, above or below everything) where binding the integer itself would fail.
        """
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (dict, list)):
            return dumps(value).decode()
        if isinstance(value, int) and not -INT64 <= value < INT64:
            return math.inf if value > 0 else -math.inf
        return value

    def held(self, kind: FieldKind, value: Any) -> bool:
        """Scalars, whole (SQLite's indexes take entries of any size); not an object, which no column copies.

        So a field of no single type holds NULL in its column for an object or array: a comparison with
        NULL (or with a container) reads the document, where the object is no NULL.
        """
        return kind != "any" or (value is not None and not isinstance(value, (dict, list)))

    def contains(self, plan: TablePlan, name: str, count: int) -> tuple[str, list[Any]]:
        """An array item equal to one of the values, or an object item whose ``name`` is one of them."""
        marks = ", ".join("?" * count)
        sql = (
            "EXISTS (SELECT 1 FROM json_each(t.doc, ?) j WHERE j.value IN ({marks}) OR "
            "(j.type = 'object' AND json_extract(j.value, '$.name') IN ({marks})))"
        )
        return sql.format(marks=marks), ['$."' + name + '"']

    def name_of(self, plan: TablePlan, name: str) -> tuple[str, list[Any]]:
        """An object field's ``name`` member."""
        return "json_extract(t.doc, ?)", ['$."' + name + '".name']

    def search(self, plan: TablePlan, needle: str, *, walk: bool = False) -> tuple[str, list[Any]]:
        """Rows the text index finds, less those written since it caught up, plus those of them that match.

        The index: a trigram match for three characters or more, a scan of its text for shorter needles
        (LIKE, which folds ASCII letters, for an ASCII needle; else the text folded by Python, which folds
        every script as the tokenizer does, where SQLite's own LIKE and lower() fold only ASCII). Rows
        written since it caught up (noted in ``text_pending``, or new: past the table's text mark, a
        handful) are tested on their documents. Walked (``+``: the row id is no index to look matches up
        by), the rows come from the company's index.
        """
        fts = identifier(plan.table, "fts")
        if not plan.search_fields:
            return "1 = 0", []
        folded = needle.lower()
        fields = plan.search_fields
        plain = "\x00" not in needle  # FTS5 query strings cannot hold NUL, and SQLite's LIKE ends a pattern there
        if len(needle) >= 3 and plain:
            indexed, params = f"SELECT rowid FROM {fts} WHERE {fts} MATCH ?", [_phrase(needle)]
        elif needle.isascii() and plain:
            tests = " OR ".join(f'"{f}" LIKE ? {_LIKE_ESCAPE}' for f in fields)
            indexed, params = f"SELECT rowid FROM {fts} WHERE {tests}", [like_pattern(needle)] * len(fields)
        else:
            tests = " OR ".join(f'instr({_FOLD}("{f}"), ?) > 0' for f in fields)
            indexed, params = f"SELECT rowid FROM {fts} WHERE {tests}", [folded] * len(fields)
        fresh = " OR ".join(f"instr({_FOLD}(json_extract(u.doc, {json_path(f)})), ?) > 0" for f in plan.search_fields)
        row = "+t.rid" if walk else "t.rid"
        predicate = (
            f"{row} IN ({indexed} EXCEPT SELECT rid FROM text_pending WHERE tbl = ? UNION SELECT p.rid "
            f"FROM text_pending p JOIN {plan.table} u ON u.rid = p.rid WHERE p.tbl = ? AND ({fresh}) "
            f"UNION SELECT u.rid FROM {plan.table} u WHERE u.rid > coalesce({TEXT_MARK}, 0) AND ({fresh}))"
        )
        folds = [folded] * len(plan.search_fields)
        return predicate, [*params, plan.table, plan.table, *folds, text_mark_key(plan.table), *folds]

    def search_walks(self, plan: TablePlan, needle: str, run: Run, rows: Callable[[], int]) -> bool:
        """Whether the matches are many enough that walking the company's rows beats looking each match up.

        A lookup reads the row's page (its document and all), a walk tests one index entry against the
        matches: about 25 times cheaper (2.9 against 0.11 us at 100k customers), so the walk wins once
        the matches pass a 25th of the company's rows, and a page in index order then stops early
        (`?search=son` over 13,000 customers, 2,580 matches: the total 7.4 -> 1.5 ms, a page of 20 7 ->
        1.7 ms). Matches are counted from the text index over every company (at least this one's); a
        needle shorter than a trigram scans all of the index's text anyway, so it walks.
        """
        if not plan.search_fields:
            return False
        if len(needle) < 3 or "\x00" in needle:
            return True
        fts = identifier(plan.table, "fts")
        matches = run(f"SELECT count(*) FROM {fts} WHERE {fts} MATCH ?", (_phrase(needle),)).fetchone()[0]
        return int(matches) * _LOOKUP_PER_PROBE > rows()

    def encode(self, record: dict[str, Any]) -> Any:
        """Records are stored as JSON text."""
        return dumps(record).decode()

    def column_value(self, kind: FieldKind, value: Any) -> Any:
        """Scalars as json_extract would give them (booleans as 1/0); containers are not copied."""
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            return float(value)
        return value if isinstance(value, (str, int, float)) else None

    def column_values(self, plan: TablePlan, record: dict[str, Any]) -> list[Any]:
        """``column_value`` of each column: strings, floats, nulls and 64-bit integers (most values) as they are.

        Every seeded or written record passes here once per indexed field (about ten): a call per value
        was a twentieth of a seeded record's cost.
        """
        values: list[Any] = []
        get = record.get
        for field in plan.columns:
            value = get(field.name)
            kind = type(value)
            if kind is str or kind is float or value is None or (kind is int and -INT64 <= value < INT64):
                values.append(value)
            else:
                values.append(self.column_value(field.kind, value))
        return values

    def id_param(self, plan: TablePlan, record_id: object) -> Any | None:
        """Integers within 64 bits and strings; nothing else names a record."""
        return plain_id(record_id)

    def greatest(self) -> str:
        """SQLite's two-argument max()."""
        return "max"

    def tally_key(self, plan: TablePlan, name: str) -> tuple[str, str]:
        """``->`` gives a value's JSON text (as orjson wrote it); arrays, objects and nulls are not counted.

        A string a column holds is quoted from the column (``json_quote`` writes it as orjson does):
        reading each document's JSON instead made a bulk load's final count twice as long (84 against
        42 ms for a seeding worker's 37k records).
        """
        path = json_path(name)
        key, counted = f"(t.doc -> {path})", f"json_type(t.doc, {path}) NOT IN ('array', 'object', 'null')"
        field = plan.fields.get(name)
        if field is None or field.column is None or field.kind == "boolean":  # a column holds true as 1
            return key, counted
        text = f"typeof(t.{field.column}) = 'text'"  # the column holds text exactly when the value is a string
        return f"CASE WHEN {text} THEN json_quote(t.{field.column}) ELSE {key} END", f"({text} OR {counted})"


class SqliteTenant(SqlTenant):
    """The shared SQL tenant plus the FTS5 table that mirrors each resource's search fields.

    ``blocks``: where a write transaction hands out integer ids (``idblocks``); ``versions``: the rows'
    versions it moves and reads (``rowversions``); ``begin`` makes sure its transaction holds the write
    lock before either is read (a lazy one begins at its first statement).
    """

    def __init__(
        self,
        company_id: int,
        run: Run,
        dialect: SqliteDialect,
        plans: Callable[[str], TablePlan],
        bulk: BulkLoad | None = None,
        *,
        blocks: IdBlocks | None = None,
        versions: RowVersions | None = None,
        begin: Callable[[], object] | None = None,
    ) -> None:
        super().__init__(company_id, run, dialect, plans, bulk)
        self._blocks = blocks
        self._versions = versions
        self._begin = begin
        self._wrote: set[str] = set()  # tables this transaction wrote: their versions say nothing of its reads

    def _rows_changed(self, plan: TablePlan) -> None:
        """Move the rows' version before the commit (the write lock held): a later transaction reads again."""
        self._wrote.add(plan.table)
        if self._versions is not None:
            self._versions.moved(plan.table, self.company_id)

    def exists(self, resource: str, record_id: object) -> bool:
        """Whether the company has the record: known without a query while its rows' version has not moved."""
        plan = self._plans(resource)
        version = self._version(plan.table)
        if version is None or self._versions is None:
            return super().exists(resource, record_id)
        key = self._key(plan, record_id)
        seen = self._versions.seen(plan.table, self.company_id, version)
        if key in seen:
            return True
        if not super().exists(resource, record_id):
            return False
        seen.add(key)
        return True

    def change_token(self, resource: str) -> Hashable | None:
        """The company's rows' version, read under the write lock (see ``rowversions``)."""
        return self._version(self._plans(resource).table)

    def _version(self, table: str) -> tuple[int, int] | None:
        versions, begin = self._versions, self._begin
        if versions is None or begin is None or table in self._wrote:
            return None
        begin()
        return versions.version(table, self.company_id)

    def _counted_id(self, plan: TablePlan, name: str) -> int:
        """The next id of the counter's block, reserving a new block in the database when it has none left."""
        blocks, begin = self._blocks, self._begin
        if blocks is None or begin is None:
            return super()._counted_id(plan, name)
        begin()  # the write lock keeps every other writer off the slots (a free one is claimed here too)
        offset = blocks.slot(self.company_id, name)
        if offset is None:
            return super()._counted_id(plan, name)
        end = blocks.untrusted_end(offset)
        if end is not None:  # left by another worker, or by an earlier run: the database must agree with it
            found = self._run(_block_check_sql(plan.table), (self.company_id, self.company_id, name)).fetchone()
            if found is not None and found[0] == end and found[1] <= blocks.floor(offset):
                blocks.trust(offset)
        given = blocks.next(offset)
        if given is not None:
            return given
        company, floor = self.company_id, blocks.floor(offset)
        end = self._run(
            _block_reserve_sql(plan.table),
            (company, name, BLOCK, floor, company, plan.resource, TOTAL, TOTAL, company, BLOCK),
        ).fetchone()[0]
        first = int(end) - BLOCK + 1
        blocks.reserved(offset, first, int(end))
        return first

    def _raise_counter(self, name: str, value: int) -> None:
        """An id stored as given moves its block's slot past it too, so no worker gives it again."""
        super()._raise_counter(name, value)
        if self._blocks is not None and self._bulk is None:
            offset = self._blocks.slot(self.company_id, name)
            if offset is not None:
                self._blocks.raised(offset, value)

    def set_counter(self, name: str, value: int) -> None:
        """An id counter set by hand leaves its block: the next id reserves one from the value set."""
        super().set_counter(name, value)
        if self._blocks is not None and self._bulk is None and name.endswith(ID_COUNTER_SUFFIX):
            offset = self._blocks.slot(self.company_id, name)
            if offset is not None:
                self._blocks.forget(offset)

    def _row_key(self) -> str:
        return "rid"

    def _insert(self, plan: TablePlan, key: Any, values: list[Any]) -> Any | None:
        """A searchable table's new row takes a row id past its text mark: the next catch-up finds it there.

        So a create writes no note in ``text_pending`` (a B-tree fewer in its transaction), and a row
        id freed by a delete is never given again below the mark (the text index may hold it).
        """
        if plan.search_fields:
            past_mark = f"1 + max(coalesce((SELECT max(rid) FROM {plan.table}), 0), coalesce({TEXT_MARK}, 0))"
            cursor = self._run(insert_sql(plan, past_mark), (text_mark_key(plan.table), self.company_id, key, *values))
        else:
            cursor = self._run(insert_sql(plan), (self.company_id, key, *values))
        return cursor.lastrowid if cursor.rowcount else None  # type: ignore[attr-defined]

    def _text_changed(self, plan: TablePlan, row_key: Any) -> None:
        """Note a changed or deleted row for the text index's next catch-up, which indexes what it holds now.

        FTS5 itself would write a segment of its index in every transaction.
        """
        if plan.search_fields:
            self._run("INSERT OR IGNORE INTO text_pending (tbl, rid) VALUES (?, ?)", (plan.table, row_key))


def _copy_sql(plan: TablePlan, schema: str) -> str:
    """Copy every row of a table from an attached scratch database, replacing rows with the same key."""
    names = ", ".join(["company", "id", "doc", *plan.column_names])
    updates = ", ".join(f"{n} = excluded.{n}" for n in ["doc", *plan.column_names])
    return (
        f"INSERT INTO main.{plan.table} ({names}) SELECT {names} FROM {schema}.{plan.table} WHERE true "
        f"ORDER BY company, id ON CONFLICT (company, id) DO UPDATE SET {updates}"
    )


def _phrase(needle: str) -> str:
    """An FTS5 query that matches the needle as it is (one quoted phrase)."""
    return '"' + needle.replace('"', '""') + '"'


def _fold(value: Any) -> str:
    """A JSON value's text, lower-cased with Python's Unicode rules (for rows not in the text index yet)."""
    return "" if value is None else str(value).lower()


def temporary_folder() -> str:
    """A private folder for the in-memory default (in RAM where /dev/shm exists), named by our pid.

    Folders left by processes that died without closing their store (SIGKILL, a crash) are removed
    first, so RAM is not filled by databases nobody can reach any more.
    """
    shm = Path("/dev/shm")  # noqa: S108 - private mkdtemp folders, removed on close
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    for folder in parent.glob(f"{_TEMPORARY_PREFIX}*"):
        owner = folder.name[len(_TEMPORARY_PREFIX) :].split("-", 1)[0]
        if owner.isascii() and owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{_TEMPORARY_PREFIX}{os.getpid()}-", dir=parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unusable(path: Path, error: sqlite3.DatabaseError) -> str:
    """Why a database file cannot be opened, in terms a person can act on."""
    if path.is_dir():
        return f"{path} is a folder, not a database file."
    if not path.exists() and not path.parent.is_dir():
        return f"{path} cannot be created: its folder {path.parent} does not exist."
    return f"{path} is not a usable SQLite database ({error})."


def _release(idle: list[sqlite3.Connection], temporary: str | None) -> None:
    """Close pooled connections and remove a temporary database (at close, or when the store is collected).

    Collection may happen in any thread, even while another one forks: closing holds the fork gate too.
    """
    with inside_sqlite():
        while idle:
            with suppress(sqlite3.Error):
                idle.pop().close()
    if temporary is not None:
        shutil.rmtree(temporary, ignore_errors=True)


class _BeginsAtFirstStatement:
    """Runs statements in a write transaction that ``begin`` opens when the first one comes."""

    def __init__(self, begin: Callable[[], sqlite3.Connection]) -> None:
        self._begin = begin
        self._execute: Callable[..., sqlite3.Cursor] | None = None

    def __call__(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        if self._execute is None:
            self._execute = self._begin().execute
        return self._execute(sql, parameters)

    def begin(self) -> None:
        """Open the transaction now (the write lock held) if no statement has yet."""
        if self._execute is None:
            self._execute = self._begin().execute


# The company's highest numeric id (numbers sort before text, so an index seek finds it), 0 when it has none.
_HIGHEST_ID = "coalesce((SELECT CAST(max(id) AS INTEGER) FROM {table} WHERE company = ? AND id < ''), 0)"


@functools.lru_cache(maxsize=1024)
def _block_check_sql(table: str) -> str:
    """An id counter's value and the company's highest id: what a slot left by another process must agree with."""
    return f"SELECT value, {_HIGHEST_ID.format(table=table)} FROM counters WHERE company = ? AND name = ?"


@functools.lru_cache(maxsize=1024)
def _block_reserve_sql(table: str) -> str:
    """Move an id counter a block past itself, the slot's last id, the record count and the highest id."""
    return (
        "INSERT INTO counters (company, name, value) VALUES (?, ?, ? + max(?, coalesce((SELECT n FROM tally "
        f"WHERE company = ? AND resource = ? AND field = ? AND value = ?), 0), {_HIGHEST_ID.format(table=table)})) "
        "ON CONFLICT (company, name) DO UPDATE SET value = max(counters.value + ?, excluded.value) RETURNING value"
    )


def _identity(run: Run) -> int:
    """The database's own random number (made on first use, kept in ``meta``): copies of it share it."""
    row = run("SELECT value FROM meta WHERE key = ?", (_IDENTITY,)).fetchone()
    if row is not None:
        return int(row[0])
    made = int.from_bytes(os.urandom(8), "little") or 1  # (0 is what a new slot file holds)
    run("INSERT INTO meta (key, value) VALUES (?, ?)", (_IDENTITY, str(made)))
    return made


_IDENTITY = "identity"


def _open() -> None:
    """A transaction that began on entry holds the write lock already."""


class _CheckedOut:
    """``SqliteStore._checked_out``: a class, not a generator, as every read of every request passes through it."""

    __slots__ = ("_changes", "_connection", "_store")

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._connection: sqlite3.Connection | None = None  # None: this thread held one already (a nested use)
        self._changes = 0

    def __enter__(self) -> sqlite3.Connection:
        store = self._store
        held: sqlite3.Connection | None = getattr(store._local, "connection", None)
        if held is not None:
            return held
        enter_sqlite()
        try:
            connection = store._take()
        except BaseException:
            leave_sqlite()
            raise
        store._local.connection = self._connection = connection
        self._changes = connection.total_changes
        return connection

    def __exit__(self, *exc_info: object) -> None:
        connection = self._connection
        if connection is None:
            return
        store = self._store
        try:
            store._local.connection = None
            if connection.total_changes != self._changes:
                store._committed()
            store._give_back(connection)
        finally:
            leave_sqlite()


class SqliteStore(SqlState):
    """State in SQLite: a private temporary database by default, or a file that outlives the process."""

    dialect = SqliteDialect()
    bulk_cache_kib = _BULK_CACHE_KIB
    upkeep_in_thread = True  # text index caught up and WAL folded in by a thread of its own (see ``upkeep``)
    defer_from_rows = _DEFER_FROM_ROWS
    shared_by_processes = True  # a file other processes may write to (False: a private scratch file)

    def __init__(self, plans: dict[str, TablePlan], path: Path | None = None, *, api: str = "") -> None:
        self._local = threading.local()
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)  # notified as checked-out connections come back
        self._out = 0  # connections checked out now
        self._closed = False
        self._temporary: str | None = None
        if path is None:
            self._temporary = temporary_folder()
            path = Path(self._temporary) / "state.db"
        self.path = path
        self.workers_allowed = self._temporary is None
        self._finalizer = weakref.finalize(self, _release, self._idle, self._temporary)
        self._upkeep = Upkeep(self._connect, self._pay_backlog) if self.upkeep_in_thread else None
        shared = self._temporary is None and self.shared_by_processes
        lock_path = Path(f"{path}-lock") if shared else None  # processes queue for the write lock on it
        self._writes = GroupCommit(self._take, self._give_back, self._committed, lock_path, failed=self._state_replaced)
        super().__init__(plans, api)
        self._backlog = Backlog(self.plans, self._index_statements)
        self._baseline_backlog = Backlog(self.plans, self._index_statements)  # the saved baseline's (another database)
        self._baseline: sqlite3.Connection | None = None
        self._baseline_owes = False  # saved before the backlog was paid: the upkeep thread pays its copy too
        self._baseline_lock = threading.Lock()
        self._blocks: IdBlocks | None = None
        self._versions: RowVersions | None = None
        self._open_schema()
        self._signals = open_signals(Path(f"{path}-signals")) if shared else None
        # Shared through the signals file; none where workers could share the file but it cannot be mapped.
        self._versions = None if shared and self._signals is None else RowVersions(self._signals)
        # Where creates take integer ids: shared by the file's processes (None where it cannot be mapped:
        # each id then moves its counter's row), this process's own for a database no other opens.
        self._blocks = IdBlocks.shared(Path(f"{path}-ids")) if shared else IdBlocks.private()
        if shared and self._blocks is not None:
            with self._autocommit() as run:
                self._blocks.belongs_to(_identity(run))
        # Its writes queue with the others for the file's write lock (in autocommit: SQLite's busy handler).
        self.ephemera = SqlEphemera(self._autocommit, self._statements, self._signals, writes=self._autocommit)

    # -- connections -----------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=_BUSY_MS / 1000
            )
            for pragma in self._pragmas():
                connection.execute(pragma)
            connection.create_function(_FOLD, 1, _fold, deterministic=True)
        except sqlite3.DatabaseError as exc:
            raise StoreError(_unusable(self.path, exc)) from None
        return connection

    def _pragmas(self) -> tuple[str, ...]:
        """How each connection is set up: WAL, and no fsync for a temporary database."""
        return (
            f"PRAGMA busy_timeout = {_BUSY_MS}",
            "PRAGMA journal_mode = WAL",
            f"PRAGMA synchronous = {'OFF' if self._temporary else 'NORMAL'}",
            f"PRAGMA wal_autocheckpoint = {SAFETY_NET_PAGES}",  # checkpoints run in a thread of their own
        )

    def _take(self) -> sqlite3.Connection:
        """A connection from the pool (or a new one); ``_give_back`` returns it."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed.")
            connection = self._idle.pop() if self._idle else None
            self._out += 1
        if connection is None:
            try:
                connection = self._connect()
            except BaseException:
                self._give_back(None)
                raise
        return connection

    def _give_back(self, connection: sqlite3.Connection | None) -> None:
        """Return a connection to the pool (closed instead when the pool is full or the store closed)."""
        with self._lock:
            self._out -= 1
            if self._closed:  # only ``close`` waits for connections to come back
                self._returned.notify_all()
            if connection is not None and not self._closed and len(self._idle) < _POOL_IDLE:
                self._idle.append(connection)
                connection = None
        if connection is not None:
            connection.close()

    def _committed(self) -> None:
        """After a commit that changed something: the upkeep thread has work."""
        if self._upkeep is not None:
            self._upkeep.wake()

    def _checked_out(self) -> _CheckedOut:
        """A pooled connection for this thread (the same one again if this thread already holds one)."""
        return _CheckedOut(self)

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction; a write one shares a commit with the process's other writers (see ``groupcommit``)."""
        held: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if held is not None and held.in_transaction:  # a nested use joins the transaction open on this thread
            yield held
            return
        if not write:
            with self._checked_out() as connection, begun(connection, "BEGIN"):
                yield connection
            return
        with self._writes.transaction(held) as connection:
            self._local.connection = connection  # what this thread's nested uses join
            blocks = self._blocks
            if blocks is not None:
                blocks.begin()
            try:
                yield connection
            except BaseException:
                if blocks is not None:  # its writes are rolled back (the write lock still held): so are its ids
                    blocks.undo()
                raise
            finally:
                self._local.connection = held

    @contextmanager
    def _autocommit(self) -> Iterator[Any]:
        with self._transaction(write=True) as connection:
            yield connection.execute

    @contextmanager
    def _statements(self) -> Iterator[Any]:
        """Statements that each commit on their own (sqlite3 in autocommit mode), or join an open transaction."""
        with self._checked_out() as connection:
            yield connection.execute

    @contextmanager
    def tenant(self, company_id: int, *, write: bool = True, lazy: bool = False) -> Iterator[Tenant]:
        """A write transaction on one company's records, or reads that each see the latest commit.

        Reads skip BEGIN and COMMIT, as on PostgreSQL: every statement releases the interpreter lock,
        and with several server threads each release is a thread switch, so a get costs one statement
        instead of three (server CPU per get at 8 threads: 0.59 -> 0.38 ms). A lazy write transaction
        takes the database's one write lock at its first statement: with workers, the lock is what
        they queue for, so the request's Python before it (building the record) runs beside theirs.
        """
        if not write:
            with self._checked_out() as connection:
                yield SqliteTenant(company_id, connection.execute, self.dialect, self.plan, self._bulk_load())
            return
        if lazy:
            with ExitStack() as stack:
                first = _BeginsAtFirstStatement(lambda: stack.enter_context(self._transaction(write=True)))
                yield self._writing(company_id, first, first.begin)
            return
        with self._transaction(write=True) as connection:
            yield self._writing(company_id, connection.execute, _open)

    def _writing(self, company_id: int, run: Run, begin: Callable[[], object]) -> SqliteTenant:
        """A write transaction's tenant: it hands out ids from blocks and keeps the rows' versions."""
        return SqliteTenant(
            company_id,
            run,
            self.dialect,
            self.plan,
            self._bulk_load(),
            blocks=self._blocks,
            versions=self._versions,
            begin=begin,
        )

    def _settle_counters(self, run: Run) -> None:
        """Id counters say the last id given, not the end of the block a slot hands out (see ``idblocks.settle``)."""
        blocks = self._blocks
        if blocks is None:
            return
        rows = run("SELECT company, name, value FROM counters WHERE name LIKE ?", (f"%{ID_COUNTER_SUFFIX}",))
        for company, name, value in rows.fetchall():
            offset = blocks.find(company, name)
            last = None if offset is None else blocks.settle(offset, value)
            if last is not None:
                run("UPDATE counters SET value = ? WHERE company = ? AND name = ?", (last, company, name))

    def _state_replaced(self) -> None:
        """No block a slot holds is the counters' any more, and every table's rows changed.

        Also told when a commit failed: what its writers read of their own rows was never committed.
        """
        if self._blocks is not None:
            self._blocks.forget_all()
        if self._versions is not None:
            self._versions.all_moved()

    # -- schema ----------------------------------------------------------------------------------
    def _open_schema(self) -> None:
        try:
            with self._transaction(write=True) as connection:
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if tables and "meta" not in tables:
                    raise StoreError(
                        f"{self.path} holds another application's data; give --db a new file or a sandbox database."
                    )
                for statement in _SHARED_DDL:
                    connection.execute(statement)
                self._check_format(connection.execute)
                for plan in self.plans.values():
                    self._create_table(connection, plan)
                forget_text_index_statistics(connection.execute)  # files whose text indexes were analyzed before
                owed = self._upkeep is not None and self._backlog.owed(connection.execute)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable SQLite database ({exc}).") from None
        if owed and self._upkeep is not None:  # a bulk load left work (this process or one that ended before it)
            self._upkeep.wake()

    def _create_table(self, connection: sqlite3.Connection, plan: TablePlan) -> None:
        table = plan.table
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (rid INTEGER PRIMARY KEY, company INTEGER NOT NULL, "
            "id NOT NULL, doc TEXT NOT NULL, UNIQUE (company, id))"
        )
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for field in plan.columns:
            if field.column not in present:  # a field the spec gained since this file was made: fill it in
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {field.column}")
                connection.execute(f"UPDATE {table} SET {field.column} = json_extract(doc, {json_path(field.name)})")
        rows = 0 if self._upkeep is None else connection.execute(f"SELECT max(rid) FROM {table}").fetchone()[0]
        self._prune_indexes(connection, plan)
        if (rows or 0) < self.defer_from_rows:  # a big table's are the upkeep thread's (see ``backlog``)
            for _, statement in self._index_statements(plan):
                connection.execute(statement)
        self._create_text_index(connection, plan)

    def _prune_indexes(self, connection: sqlite3.Connection, plan: TablePlan) -> None:
        """Drop the indexes an earlier plan made that this one does not want: each costs every write time."""
        wanted = {name for name, _ in self._index_statements(plan)}
        made = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (plan.table,)
        ).fetchall()
        for (name,) in made:
            if name.startswith("ix_") and name not in wanted:
                connection.execute(f'DROP INDEX "{name}"')

    def _index_statements(self, plan: TablePlan) -> list[tuple[str, str]]:
        """The indexes of a table (name, statement): each compared field's equality index, and its sort orders.

        SQLite reads an index backwards as readily as forwards, so a sort needs an index of its own
        only for a key the equality index does not hold (text sorts by ``lower``) and for NULL last
        ascending (a sentinel key), which a field every record holds does not need.
        """
        table = plan.table
        statements: list[tuple[str, str]] = []

        def index(name: str, columns: str) -> None:
            statements.append((name, f"CREATE INDEX IF NOT EXISTS {name} ON {table} (company, {columns}, id)"))

        for name, field in plan.fields.items():
            value = f"{field.column}" if field.column else f"json_extract(doc, {json_path(name)})"
            if field.compared:
                index(identifier("ix", table, name), value)
            if field.sortable:
                key = f"lower({value})" if field.kind == "text" else value
                if not field.present:
                    index(identifier("ix", table, name, "asc"), f"coalesce({key}, x'ff')")
                if field.kind == "text":
                    index(identifier("ix", table, name, "desc"), key)
        return statements

    def _create_text_index(self, connection: sqlite3.Connection, plan: TablePlan) -> None:
        table = plan.table
        wanted = dumps(list(plan.search_fields)).decode()
        row = connection.execute("SELECT value FROM meta WHERE key = ?", (f"fts:{table}",)).fetchone()
        if row is not None and row[0] == wanted:
            mark = connection.execute("SELECT 1 FROM meta WHERE key = ?", (text_mark_key(table),)).fetchone()
            if mark is None and plan.search_fields:  # a file from before text marks: every row indexed or noted
                set_text_mark(connection.execute, table)
            return
        self._rebuild_text_index(connection.execute, plan)
        connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (f"fts:{table}", wanted))

    def _rebuild_text_index(self, run: Any, plan: TablePlan) -> None:
        """A table's text index made anew: every row's text in one statement, or (a bulk load's big table) none yet.

        The old index is dropped, not emptied: DELETE from an FTS5 table costs as much as indexing the text.
        """
        fts = identifier(plan.table, "fts")
        run("DELETE FROM text_pending WHERE tbl = ?", (plan.table,))
        run(f"DROP TABLE IF EXISTS {fts}", ())
        if not plan.search_fields:
            return
        columns = ", ".join(f'"{f}"' for f in plan.search_fields)
        run(f"CREATE VIRTUAL TABLE {fts} USING fts5({columns}, tokenize = 'trigram')", ())
        bulk = self._bulk_load()
        if bulk is not None and plan.table in bulk.deferred:
            set_text_mark(run, plan.table, 0)  # every row past the mark: the upkeep thread indexes them
        else:
            index_text_in_bulk(run, plan, "")
            set_text_mark(run, plan.table)

    def catch_up(self) -> None:
        """Pay the whole backlog now: every index a bulk load left out, the text of every row written since."""
        with self._transaction(write=True) as connection:
            self._backlog.pay_all(connection.execute)
        with inside_sqlite(), self._baseline_lock:  # the baseline is a connection too: a fork waits for its use
            if self._baseline is not None and self._baseline_owes:
                with begun(self._baseline, "BEGIN IMMEDIATE"):
                    self._baseline_backlog.pay_all(self._baseline.execute)
                self._baseline_owes = False

    def _upkeep_write(self, connection: sqlite3.Connection) -> AbstractContextManager[sqlite3.Connection]:
        """The upkeep thread's write transaction: queued with the requests' writers, not polling SQLite's busy handler.

        A writer that found the lock held by an upkeep step slept 1 ms or more in the busy handler (p99
        of ``BEGIN IMMEDIATE`` in a create: 1.4 ms, at most 51 ms); queued, it is woken when the step ends.
        """
        return self._writes.transaction(connection, announce=False)

    def _pay_backlog(self, connection: sqlite3.Connection) -> bool:
        """The upkeep thread's chore: a step of the backlog, then of the baseline's copy of it; True while any is left.

        Raises when the write lock stays busy (the next round tries again).
        """
        if self._backlog.step(connection, self._upkeep_write):
            return True
        with self._baseline_lock:
            if self._baseline is None or not self._baseline_owes:
                return False
            self._baseline_owes = self._baseline_backlog.step(self._baseline)
            return self._baseline_owes

    def _create_plan_table(self, plan: TablePlan) -> None:
        with self._transaction(write=True) as connection:
            self._create_table(connection, plan)

    # -- bulk merge ------------------------------------------------------------------------------
    @contextmanager
    def bulk(self) -> Iterator[None]:
        """A bulk load with a large page cache and a helper thread for sorts, both given back at its end.

        The cache holds what the load writes until it commits, through the index sorts of a merge and
        the text indexes rebuilt at the end, instead of spilling pages to the journal as it goes.
        """
        if self._bulk_load() is not None:
            yield
            return
        with self._checked_out() as connection:
            previous = connection.execute("PRAGMA cache_size").fetchone()[0]
            connection.execute(f"PRAGMA cache_size = -{self.bulk_cache_kib}")
            connection.execute("PRAGMA threads = 2")  # a helper thread sorts beside the main one
            try:
                with super().bulk():
                    yield
            finally:
                connection.execute(f"PRAGMA cache_size = {int(previous)}")
                connection.execute("PRAGMA threads = 0")

    @contextmanager
    def attached(self, sources: Sequence[ScratchStore]) -> Iterator[None]:
        """Attach scratch databases to this thread's connection (ATTACH cannot run inside a transaction).

        ``absorb`` then copies an attached database's rows in one statement each, without a round trip
        through Python per row (rows of a merge at scale 1000: 2.1 -> 0.7 s); at most SQLite's limit of
        attached databases (10) are, and the rest are copied row by row.
        """
        with self._checked_out() as connection:
            if connection.in_transaction:
                raise RuntimeError("attached() goes around the transaction that absorbs, not inside one")
            room = connection.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED)
            schemas = {str(source.path): f"scratch_{n}" for n, source in enumerate(sources[:room])}
            for path, schema in schemas.items():
                connection.execute(f"ATTACH DATABASE ? AS {schema}", (path,))
            self._local.attached = schemas
            try:
                yield
            finally:
                self._local.attached = {}
                for schema in schemas.values():
                    connection.execute(f"DETACH DATABASE {schema}")

    def _attached(self) -> dict[str, str]:
        """The scratch databases attached to this thread's connection: path -> schema name."""
        schemas: dict[str, str] = getattr(self._local, "attached", {})
        return schemas

    def absorb(self, sources: Sequence[ScratchStore]) -> None:
        """Copy scratch stores' records and counters into this store's open bulk load (its end counts and indexes).

        An empty table loses its indexes for the copy and gets them back after it: one sort per index
        instead of a B-tree insertion per row and index.
        """
        bulk = self._bulk_load()
        if bulk is None:
            raise RuntimeError("absorb() runs inside store.bulk()")
        with self._transaction(write=True) as connection:
            for plan in list(self.plans.values()):
                if self._copy_rows(connection, plan, sources, bulk):
                    bulk.tallies[plan.resource] = [row for source in sources for row in source.tally_rows(plan)]
                else:
                    bulk.touched.add(plan.resource)
        for source in sources:
            for company, name, value in source.counter_rows():
                bulk.counters[(company, name)] = value

    def _copy_rows(
        self, connection: sqlite3.Connection, plan: TablePlan, sources: Sequence[ScratchStore], bulk: BulkLoad
    ) -> bool:
        """Insert every source's rows of one table (unindexed while it fills, when it was empty); was it empty?

        An empty table that receives ``defer_from_rows`` rows or more is left without its indexes and
        text index: the upkeep thread makes them after the commit (``backlog``).
        """
        empty = connection.execute(f"SELECT 1 FROM {plan.table} LIMIT 1").fetchone() is None
        indexes: list[tuple[str, str]] = []
        if empty:
            indexes = connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (plan.table,),
            ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        before = connection.total_changes
        for source in sources:
            schema = self._attached().get(str(source.path))
            if schema is not None:
                connection.execute(_copy_sql(plan, schema))
            else:
                connection.executemany(upsert_sql(plan), source.raw_rows(plan))
        if empty and self._upkeep is not None and connection.total_changes - before >= self.defer_from_rows:
            bulk.deferred.add(plan.table)
            return empty
        for _, sql in indexes:
            connection.execute(sql)
        return empty

    def optimize(self) -> None:
        """Statistics for the planner (a filtered, sorted page picks the right index), then fold the WAL in."""
        with self._checked_out() as connection:
            analyze(connection.execute)
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- baseline and lifetime -------------------------------------------------------------------
    def save_baseline(self) -> bool:
        """Copy the temporary database into memory with SQLite's backup API (files re-seed instead)."""
        if self._temporary is None:
            return False
        with self._autocommit() as run:  # the baseline's counters say the last id given: a reset goes on from it
            self._settle_counters(run)
        with self._checked_out() as connection, self._baseline_lock:
            baseline = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            connection.backup(baseline)
            if self._baseline is not None:
                self._baseline.close()
            self._baseline, self._baseline_owes = baseline, self._backlog.owed(connection.execute)
            self._baseline_backlog = Backlog(self.plans, self._index_statements)
        return True

    def restore_baseline(self) -> bool:
        """Copy the saved baseline back over the live database (every thread sees it at once)."""
        if self._baseline is None:
            return False
        with self._checked_out() as connection, self._baseline_lock:
            self._baseline.backup(connection)
            self._state_replaced()
        if self._upkeep is not None:  # what the baseline still owed, the live database now owes
            self._upkeep.wake()
        return True

    def close(self) -> None:
        """Close every connection of this store (none is open when this returns) and remove a temporary database.

        A process that forks must have none open: a child inherits SQLite's record of the parent's
        locks, and its own connections to the same file then skip locks they do not hold (seen: two
        ``--workers`` corrupted the file when the parent's upkeep thread closed its connection late).
        Connections other threads have checked out are closed as they come back; this waits for them.
        """
        mine = 1 if getattr(self._local, "connection", None) is not None else 0
        with self._lock:
            self._closed = True
        if self._upkeep is not None:
            self._upkeep.stop()
        with self._lock:
            if not self._returned.wait_for(lambda: self._out <= mine, timeout=_CLOSE_WAIT_SECONDS):
                still = self._out - mine
                log.warning("%s: %d connection(s) still in use after %d s", self.path, still, _CLOSE_WAIT_SECONDS)
        self._writes.close()
        if self._signals is not None:
            self._signals.close()
            self._signals = None
        if self._blocks is not None:
            self._blocks.close()
        with inside_sqlite(), self._baseline_lock:
            if self._baseline is not None:
                self._baseline.close()
                self._baseline = None
        self._finalizer()
