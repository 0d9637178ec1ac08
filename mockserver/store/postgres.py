"""The server engine: PostgreSQL through psycopg 3 and a pool of connections shared by the threads.

Every worker process opens its own pool on the same database, so they all share one state. A write
transaction takes a transaction-scoped advisory lock on its company: writers to one company are
serialised by the database, writers to different companies and every reader run side by side. The
tables and indexes are created (if missing) at start-up under a global advisory lock, so a field or
resource added to the spec needs no migration and two workers starting at once do not race.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from mockserver.errors import ValidationFailed
from mockserver.store.base import StoreError, StoreUnavailable, Tenant
from mockserver.store.ephemera import SqlEphemera
from mockserver.store.layout import TablePlan
from mockserver.store.postgres_dialect import (
    FOLDING_COLLATIONS,
    PLANNED_PER_VALUE,
    SEARCH_COLUMN,
    SHARED_DDL,
    PostgresDialect,
    column_repairs,
    create_table,
    index_statements,
    placeholders,
    planned_indexes,
    search_column,
    search_index,
)
from mockserver.store.snapshot import SqlState
from mockserver.store.sql import Run, SqlTenant, decode, upsert_sql
from mockserver.waits import queueing, waiting_on_server

if TYPE_CHECKING:
    from mockserver.store.scratch import ScratchStore

Connection = psycopg.Connection[tuple[Any, ...]]
_COMPANY_LOCK = 0x5A6B0001  # advisory lock namespaces (the two-int form): one per company ...
_SCHEMA_LOCK = 0x5A6B0002  # ... and one around the start-up DDL
_LOCK_COMPANY = "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)"  # a company's write lock, held to COMMIT
_CONNECT_TIMEOUT = 10
_OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR)
_POOL_MIN, _POOL_MAX = 2, 16
# The longest a request waits for a pooled connection: with the database gone, it is answered 503 after this.
CHECKOUT_SECONDS = 10.0
# Once a wait ran out, the database counts as down until a connection comes: meanwhile a request waits this little.
DOWN_CHECKOUT_SECONDS = 0.5
# How long the pool retries one lost connection (its waits doubling from 1 s) before it gives up on it; a request
# waiting for a connection then starts a new try at once. Left at psycopg's 300 s, the waits grew to 64 s, so a
# database back after a 20 s outage served again only ~10 s later; an idle sandbox still makes no tries at all.
RECONNECT_SECONDS = 5.0
_MERGE_MEMORY = "256MB"  # maintenance_work_mem while a bulk merge rebuilds indexes


def describe(url: str) -> str:
    """Where a URL points, as ``host:port/database`` (never its user or password)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "the configured PostgreSQL server"
    database = unquote(parts.path.lstrip("/")) or "(default database)"
    return f"{parts.hostname or 'localhost'}:{port or 5432}/{database}"


def _reason(exc: BaseException, url: str) -> str:
    """An error's message on one line, with any password in the URL masked."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    try:
        parts = urlsplit(url)
        secrets = {parts.password or "", *parse_qs(parts.query).get("password", [])}
    except ValueError:
        secrets = set()
    for secret in sorted(secrets | {unquote(s) for s in secrets}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


def _configure(connection: Connection) -> None:
    """Decode json and jsonb columns with the store's fast decoder (orjson, with a big-integer fallback)."""
    set_json_loads(decode, connection)


def runner(connection: Connection) -> Run:
    """A ``run(sql, params)`` on one connection for statements written with ``?`` placeholders.

    The wait for the server's answer is the request's cost (``waits``): a search the server spends
    100 ms on is no quick request, though it costs this process little CPU.
    """

    def run(sql: str, params: Sequence[Any]) -> psycopg.Cursor[tuple[Any, ...]]:
        prepare = False if PLANNED_PER_VALUE in sql else None  # None: psycopg's own rule (from the fifth run)
        try:
            with waiting_on_server():
                return connection.execute(placeholders(sql), params, prepare=prepare)
        except (errors.ProgramLimitExceeded, errors.NumericValueOutOfRange) as exc:
            message = f"The record cannot be stored: {exc.diag.message_primary or exc}."
            raise ValidationFailed({"record": [message]}) from None

    return run


def _status(connection: Connection) -> TransactionStatus:
    """Whether a connection is idle, in a transaction, or in one that failed."""
    return connection.info.transaction_status


def _relations(run: Run) -> set[str]:
    """The names of the tables and indexes in the current schema."""
    rows = run("SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace", ()).fetchall()
    return {row[0] for row in rows}


def _lock_key(company_id: int) -> int:
    """A company id folded into the 32-bit key of an advisory lock (a collision only serialises two)."""
    return ((company_id + 2**31) % 2**32) - 2**31


def peek_postgres_meta(url: str, key: str) -> str | None:
    """A ``meta`` value of the sandbox's database, on one short connection (None: no answer, table or value)."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2) as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
    except Exception:  # unreachable, not the sandbox's, no meta table: the caller just does the work
        return None
    return row[0] if row is not None and isinstance(row[0], str) else None


class PostgresStore(SqlState):
    """State in a PostgreSQL database that several worker processes share."""

    workers_allowed = True
    dialect: PostgresDialect

    def __init__(self, plans: dict[str, TablePlan], url: str, *, api: str = "") -> None:
        super().__init__(plans, api)
        self.url = url
        self.where = describe(url)
        self.dialect = PostgresDialect()
        self._local = threading.local()
        self._trigram = False
        self._down = False  # a checkout's wait ran out and none succeeded since: waits are DOWN_CHECKOUT_SECONDS
        self._open_schema()
        self._pool = self._open_pool()
        self._finalizer = weakref.finalize(self, self._pool.close)
        self.ephemera = SqlEphemera(self._autocommit, self._statements)

    # -- connections -----------------------------------------------------------------------------
    def _open_pool(self) -> ConnectionPool[Connection]:
        try:
            return ConnectionPool(
                self.url,
                min_size=_POOL_MIN,
                max_size=_POOL_MAX,
                open=True,
                kwargs={"autocommit": True},
                configure=_configure,
                name="invoice-sandbox",
                timeout=CHECKOUT_SECONDS,
                reconnect_timeout=RECONNECT_SECONDS,
            )
        except Exception as exc:  # any failure: one clear line without the password
            raise StoreError(f"cannot open a connection pool to {self.where}: {_reason(exc, self.url)}") from None

    @contextmanager
    def _checked_out(self) -> Iterator[Connection]:
        """A pooled connection for this thread (the same one again if this thread already holds one).

        A database that cannot serve now (no connection free within ``CHECKOUT_SECONDS``, a connection lost
        to a restart) raises ``StoreUnavailable``, without the URL's secrets: the API answers 503. After a
        wait ran out, the next ones are short until one succeeds, so a database that is down fails requests fast.
        """
        held: Connection | None = getattr(self._local, "connection", None)
        if held is not None:
            yield held
            return
        try:
            with self._pool.connection(timeout=DOWN_CHECKOUT_SECONDS if self._down else CHECKOUT_SECONDS) as connection:
                self._down = False
                self._local.connection = connection
                try:
                    yield connection
                finally:
                    self._local.connection = None
        except PoolTimeout as exc:
            self._down = True
            raise StoreUnavailable(f"PostgreSQL at {self.where} cannot serve now: {_reason(exc, self.url)}") from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.where} cannot serve now: {_reason(exc, self.url)}") from None

    @contextmanager
    def _transaction(self, company_id: int | None) -> Iterator[Connection]:
        """A transaction (joined when this thread has one open); a company's writers hold its lock."""
        with self._checked_out() as connection:
            if _status(connection) in _OPEN:
                self._lock(connection, company_id)
                yield connection
                return
            try:
                self._begin(connection, company_id)
                yield connection
            except BaseException:
                with suppress(psycopg.Error):
                    connection.execute("ROLLBACK")
                raise
            if _status(connection) == TransactionStatus.INERROR:
                connection.execute("ROLLBACK")
                raise StoreError("a statement failed inside the transaction, so it was rolled back.")
            with waiting_on_server():
                connection.execute("COMMIT")

    @staticmethod
    def _begin(connection: Connection, company_id: int | None) -> None:
        """BEGIN, and a company's lock in the same round trip (a pipeline: a create's transaction made nine, now eight).

        The pipeline's end waits for both, and counts as a wait behind another writer (``waits.queueing``).
        """
        if company_id is None:
            with waiting_on_server():
                connection.execute("BEGIN")
            return
        with queueing(), connection.pipeline():
            connection.execute("BEGIN")
            connection.execute(_LOCK_COMPANY, (_COMPANY_LOCK, _lock_key(company_id)))

    @staticmethod
    def _lock(connection: Connection, company_id: int | None) -> None:
        """The company's write lock: a wait for it is a wait behind another writer (``waits.queueing``)."""
        if company_id is not None:
            with queueing():
                connection.execute(_LOCK_COMPANY, (_COMPANY_LOCK, _lock_key(company_id)))

    @contextmanager
    def _autocommit(self) -> Iterator[Run]:
        with self._transaction(None) as connection:
            yield runner(connection)

    @contextmanager
    def _statements(self) -> Iterator[Run]:
        """Statements that each commit on their own (no BEGIN/COMMIT round trips), or join an open transaction."""
        with self._checked_out() as connection:
            yield runner(connection)

    @contextmanager
    def tenant(self, company_id: int, *, write: bool = True, lazy: bool = False) -> Iterator[Tenant]:
        """A write transaction holding the company's advisory lock, or reads that need no transaction.

        A lazy write transaction begins at once all the same: the lock is per company, not for the database.

        At READ COMMITTED every statement sees its own snapshot even inside a transaction, so reads
        skip BEGIN and COMMIT: two round trips fewer per request.
        """
        if not write:
            with self._statements() as run:
                yield SqlTenant(company_id, run, self.dialect, self.plan, self._bulk_load())
            return
        with self._transaction(company_id) as connection:
            yield SqlTenant(company_id, runner(connection), self.dialect, self.plan, self._bulk_load())

    def replace(self, state: dict[str, Any]) -> None:
        """Replace the whole state, holding every company's lock first so no writer interleaves."""
        with self._transaction(None) as connection:
            companies = {int(company) for company in state.get("companies") or {}} | set(self.company_ids())
            for company_id in sorted(companies):  # one order everywhere: two replaces cannot deadlock
                self._lock(connection, company_id)
            super().replace(state)

    def replace_company(self, company_id: int, data: dict[str, Any]) -> None:
        """Hold every company's lock from the export to the replace: no writer of any company interleaves."""
        with self._transaction(None) as connection:
            for each in sorted({*self.company_ids(), company_id}):
                self._lock(connection, each)
            super().replace_company(company_id, data)

    def _clear(self, run: Run) -> None:
        """TRUNCATE rather than DELETE: a million deleted rows would linger as dead tuples until a VACUUM."""
        tables = ", ".join([*(plan.table for plan in self.plans.values()), "counters"])
        run(f"TRUNCATE {tables}", ())

    # -- bulk merge ------------------------------------------------------------------------------
    def absorb(self, sources: Sequence[ScratchStore]) -> None:
        """Copy scratch stores' records and counters into this store's open bulk load, with COPY.

        An empty table loses its secondary indexes (the trigram one too) for the copy and gets them
        back after it: one build per index instead of an index update per row.
        """
        bulk = self._bulk_load()
        if bulk is None:
            raise RuntimeError("absorb() runs inside store.bulk()")
        with self._transaction(None) as connection:
            connection.execute(f"SET LOCAL maintenance_work_mem = '{_MERGE_MEMORY}'")
            for plan in list(self.plans.values()):
                if self._copy_rows(connection, plan, sources):
                    bulk.tallies[plan.resource] = [row for source in sources for row in source.tally_rows(plan)]
                else:
                    bulk.touched.add(plan.resource)
        for source in sources:
            for company, name, value in source.counter_rows():
                bulk.counters[(company, name)] = value

    def _copy_rows(self, connection: Connection, plan: TablePlan, sources: Sequence[ScratchStore]) -> bool:
        """COPY every source's rows of one table into it when it is empty, else upsert them; was it empty?"""
        rows = (self._typed_row(plan, raw) for source in sources for raw in source.raw_rows(plan))
        if connection.execute(f"SELECT 1 FROM {plan.table} LIMIT 1").fetchone() is not None:
            with connection.cursor() as cursor:
                cursor.executemany(placeholders(upsert_sql(plan)), rows)
            return False
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = CAST(%s AS regclass))",
            (plan.table, plan.table),
        ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        names = ", ".join(["company", "id", "doc", *(str(field.column) for field in plan.columns)])
        with connection.cursor() as cursor, cursor.copy(f"COPY {plan.table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        for _, statement in indexes:
            connection.execute(statement)
        return True

    def _typed_row(self, plan: TablePlan, raw: Sequence[Any]) -> tuple[Any, ...]:
        """A scratch row (SQLite's values) as this engine binds it: the columns come from the document again."""
        company, record_id, document = raw[0], raw[1], raw[2]
        record = decode(document)
        return (company, self.dialect.id_param(plan, record_id), document, *self.dialect.column_values(plan, record))

    # -- schema ----------------------------------------------------------------------------------
    def _open_schema(self) -> None:
        """Create what is missing on one direct connection; refuse a database that is not the sandbox's."""
        try:
            connection = psycopg.connect(self.url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT)
        except Exception as exc:  # any failure: one clear line without the password
            raise StoreError(f"cannot connect to PostgreSQL at {self.where}: {_reason(exc, self.url)}") from None
        try:
            with connection:
                _configure(connection)
                with connection.transaction():
                    run = runner(connection)
                    run("SELECT pg_advisory_xact_lock(?::integer, 0)", (_SCHEMA_LOCK,))
                    self._refuse_foreign(run)
                    for statement in SHARED_DDL:
                        run(statement, ())
                    self._check_format(run)
                    self._trigram = self._enable_trigram(connection)
                    self.dialect.collation = self._folding_collation(run)
                    existing = _relations(run)
                    for plan in self.plans.values():
                        self._create_table(connection, plan, existing)
        except psycopg.Error as exc:
            raise StoreError(f"{self.where} is not a usable PostgreSQL database ({_reason(exc, self.url)}).") from None

    def _refuse_foreign(self, run: Run) -> None:
        """Tables but no ``meta`` table: another program's database, which the sandbox leaves alone."""
        tables = run("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()", ()).fetchall()
        if tables and "meta" not in {row[0] for row in tables}:
            raise StoreError(
                f"{self.where} holds another application's data; give --db a new database or a sandbox database."
            )

    @staticmethod
    def _enable_trigram(connection: Connection) -> bool:
        """Whether pg_trgm is there or could be created (without it, search scans instead)."""
        try:
            with connection.transaction():  # a savepoint: a refusal leaves the start-up transaction usable
                connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error:
            return False
        return True

    @staticmethod
    def _folding_collation(run: Run) -> str | None:
        """A collation whose lower() folds every script (None: the database default's)."""
        rows = run(
            "SELECT collname FROM pg_collation WHERE collname IN (?, ?, ?) AND collencoding IN "
            "(-1, pg_char_to_encoding(current_setting('server_encoding'))) "
            "AND current_setting('server_encoding') = 'UTF8'",
            FOLDING_COLLATIONS,
        ).fetchall()
        found = {row[0] for row in rows}
        return next((name for name in FOLDING_COLLATIONS if name in found), None)

    def _create_table(self, connection: Connection, plan: TablePlan, existing: set[str]) -> None:
        """The table, its columns (added and filled when the spec gained a field) and its indexes."""
        run = runner(connection)
        if plan.table not in existing:
            run(create_table(plan), ())
        else:
            present = run(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                "WHERE attrelid = CAST(? AS regclass) AND attnum > 0 AND NOT attisdropped",
                (plan.table,),
            ).fetchall()
            repairs = column_repairs(plan, {str(name): str(kind) for name, kind in present})
            for statement in repairs:
                run(statement, ())
            if repairs:  # a dropped column took its indexes with it
                existing = _relations(run)
            self._prune_indexes(connection, plan)
        for statement in index_statements(plan, existing):
            run(statement, ())
        self._create_search_index(connection, plan, existing)

    def _prune_indexes(self, connection: Connection, plan: TablePlan) -> None:
        """Drop the indexes an earlier plan made that this one does not want: each costs every write time."""
        run = runner(connection)
        wanted = {name for name, _ in planned_indexes(plan)} | {search_index(plan)[0]}
        made = run(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?", (plan.table,)
        ).fetchall()
        for (name,) in made:
            if str(name).startswith("ix_") and name not in wanted:
                run(f'DROP INDEX "{name}"', ())

    def _create_search_index(self, connection: Connection, plan: TablePlan, existing: set[str]) -> None:
        """The stored search text (remade when the fields or the collation change) and its trigram index."""
        run = runner(connection)
        name, index_statement = search_index(plan)
        column_statement = search_column(plan, self.dialect.collation) if plan.search_fields else ""
        row = run("SELECT value FROM meta WHERE key = ?", (f"search:{plan.table}",)).fetchone()
        if row is None or row[0] != column_statement:
            run(f"DROP INDEX IF EXISTS {name}", ())
            run(f"ALTER TABLE {plan.table} DROP COLUMN IF EXISTS {SEARCH_COLUMN}", ())
            if column_statement:
                run(column_statement, ())
            run(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"search:{plan.table}", column_statement),
            )
            existing.discard(name)
        if column_statement and self._trigram and name not in existing:
            with suppress(psycopg.Error), connection.transaction():
                run(index_statement, ())

    def _create_plan_table(self, plan: TablePlan) -> None:
        """A table for a resource the spec does not list, committed at once on a connection of its own."""
        with self._pool.connection() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s::integer, 0)", (_SCHEMA_LOCK,))
            self._create_table(connection, plan, _relations(runner(connection)))

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the pool and its connections."""
        self._finalizer()


__all__ = ["PostgresDialect", "PostgresStore"]
