"""The Tenant both SQL engines share: records as JSON documents, queries compiled to SQL.

Each engine supplies a ``Dialect`` (how a field is read out of a document, how it sorts, how text
is searched, how values are bound); the statements themselves are written once, here, with ``?``
placeholders that the PostgreSQL engine rewrites. A count of every record and of every value of a
tallied field (enums, booleans) is kept beside the records in the same transaction, so a list's
``total`` costs one lookup instead of a count over a million rows.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from mockserver.errors import ValidationFailed
from mockserver.jsonio import dumps, loads
from mockserver.store.base import Change, Condition, DocumentPage, Page, Query, Record, RecordId
from mockserver.store.layout import FieldKind, TablePlan

INT64 = 2**63
TOTAL = ""  # the tally field that counts every record of a resource
ID_COUNTER_SUFFIX = "#id"  # a resource's id counter is named by the resource and this
# The longest id a record may have, in UTF-8 bytes, on every engine alike: PostgreSQL's (company, id) btree
# index holds entries of at most 2,704 bytes, and a sandbox should not answer differently on its two engines.
MAX_ID_BYTES = 2000


class Cursor(Protocol):
    """The part of a DB-API cursor the tenant uses."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """Every remaining row."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""


Run = Callable[[str, Sequence[Any]], Cursor]


class Dialect(Protocol):
    """How one SQL engine reads, compares, sorts and searches fields of a JSON document."""

    def value(self, plan: TablePlan, name: str, *, in_document: bool = False) -> tuple[str, list[Any]]:
        """The SQL expression of a field's value (and the parameters it binds); ``in_document``: never its column."""

    def sort_key(self, plan: TablePlan, name: str, descending: bool) -> tuple[str, list[Any]]:
        """The expression to order by so that nulls come last in either direction."""

    def bind(self, kind: FieldKind, value: Any) -> Any:
        """A Python value as a parameter compared with a field's value expression."""

    def held(self, kind: FieldKind, value: Any) -> bool:
        """Whether a field's column compares with ``value`` as the document's value would (else read that)."""

    def contains(self, plan: TablePlan, name: str, count: int) -> tuple[str, list[Any]]:
        """An array item equal to, or named, one of ``count`` values (parameters before its placeholders)."""

    def name_of(self, plan: TablePlan, name: str) -> tuple[str, list[Any]]:
        """The expression of an object field's ``name`` member."""

    def search(self, plan: TablePlan, needle: str, *, walk: bool = False) -> tuple[str, list[Any]]:
        """A predicate on the record row (alias ``t``) for a case-insensitive substring search.

        ``walk``: find the rows by going through the company's rows in an index's order and testing each
        against the matches, instead of looking each match up (see ``search_walks``).
        """

    def search_walks(self, plan: TablePlan, needle: str, run: Run, rows: Callable[[], int]) -> bool:
        """Whether a search of a company with ``rows()`` records is cheaper walked (False: the engine plans it)."""

    def encode(self, record: Record) -> Any:
        """A record as the engine stores its document."""

    def column_value(self, kind: FieldKind, value: Any) -> Any:
        """A field's value as its column stores it (None when it has no place there)."""

    def column_values(self, plan: TablePlan, record: Record) -> list[Any]:
        """``column_value`` of each of the plan's columns for a record, in ``plan.columns``' order."""

    def id_param(self, plan: TablePlan, record_id: object) -> Any | None:
        """An id as a parameter, or None when no record can have it (wrong type, out of range)."""

    def greatest(self) -> str:
        """The SQL function that returns the larger of two values."""

    def tally_key(self, plan: TablePlan, name: str) -> tuple[str, str]:
        """A field's value as the JSON text ``tally`` keys it by, and the condition that it is a counted scalar."""

    @property
    def no_limit(self) -> str:
        """The LIMIT clause that means no limit (an OFFSET needs one in SQLite)."""

    @property
    def document_text(self) -> str:
        """The expression that reads a row's document as JSON text (alias ``t``)."""


def decode(raw: Any) -> Record:
    """A stored document back to a record (the standard library decodes integers beyond 64 bits)."""
    if isinstance(raw, dict):
        return raw
    record: Record = loads(raw)
    return record


def like_pattern(needle: str) -> str:
    """A LIKE pattern that finds the needle anywhere, its wildcards taken literally (escaped by a backslash)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def plain_id(record_id: object) -> object | None:
    """An id any engine can store: a str, or an int within 64 bits (bools and containers name nothing)."""
    if isinstance(record_id, bool):
        return None
    if isinstance(record_id, int):
        return record_id if -INT64 <= record_id < INT64 else None
    return record_id if isinstance(record_id, str) else None


TallyRow = tuple[int, str, str, int]  # company, field, value (as JSON text), count


@dataclass
class BulkLoad:
    """What a bulk load defers to its end: counters kept in memory; tallies and text indexes rebuilt once.

    ``tallies`` holds the counts that came with tables filled from scratch databases only: those
    tables are not counted again unless a write of this load (``touched``) changed them too.
    """

    counters: dict[tuple[int, str], int] = field(default_factory=dict)
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    tallies: dict[str, list[TallyRow]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    deferred: set[str] = field(default_factory=set)  # tables whose indexes the engine makes after the commit


class SqlTenant:
    """One company's records in one open transaction of a SQL engine."""

    def __init__(
        self,
        company_id: int,
        run: Run,
        dialect: Dialect,
        plans: Callable[[str], TablePlan],
        bulk: BulkLoad | None = None,
    ) -> None:
        self.company_id = company_id
        self._run = run
        self._dialect = dialect
        self._plans = plans
        self._bulk = bulk
        self.watched: frozenset[str] = frozenset()
        self.changes: list[Change] = []
        self._issued: dict[str, int] = {}  # resource -> the id ``next_id`` last gave it in this transaction
        self._walks: dict[tuple[str, str], bool] = {}  # (table, needle) -> whether its search is walked

    # -- records ---------------------------------------------------------------------------------
    def _key(self, plan: TablePlan, record_id: object) -> Any | None:
        return self._dialect.id_param(plan, record_id)

    def _row(self, plan: TablePlan, key: Any) -> tuple[Any, Record] | None:
        row = self._run(
            f"SELECT {self._row_key()}, doc FROM {plan.table} WHERE company = ? AND id = ?", (self.company_id, key)
        ).fetchone()
        return None if row is None else (row[0], decode(row[1]))

    def _row_key(self) -> str:
        """The column that names a row for the engine's text index (SQLite's rowid; PostgreSQL's id)."""
        return "id"

    def get(self, resource: str, record_id: object) -> Record | None:
        """One record, or None."""
        plan = self._plans(resource)
        key = self._key(plan, record_id)
        if key is None:
            return None
        row = self._run(f"SELECT doc FROM {plan.table} WHERE company = ? AND id = ?", (self.company_id, key)).fetchone()
        return None if row is None else decode(row[0])

    def exists(self, resource: str, record_id: object) -> bool:
        """Whether the company has the record: its key looked up, no document read."""
        plan = self._plans(resource)
        key = self._key(plan, record_id)
        if key is None:
            return False
        sql = f"SELECT 1 FROM {plan.table} WHERE company = ? AND id = ?"
        return self._run(sql, (self.company_id, key)).fetchone() is not None

    def put(self, resource: str, record_id: RecordId, record: Record) -> Record:
        """Insert or replace a record; keep the tallies, the id counter and the text index current."""
        plan = self._plans(resource)
        key = self._key(plan, record_id)
        if key is None:
            raise ValidationFailed(
                {plan.id_field: [f"{record_id!r} cannot identify a record: use a 64-bit integer or a string."]}
            )
        if isinstance(record_id, str) and len(record_id) * 4 > MAX_ID_BYTES:  # (no encoding for a short one)
            size = len(record_id.encode("utf-8", "surrogatepass"))
            if size > MAX_ID_BYTES:
                message = f"An id may be at most {MAX_ID_BYTES:,} bytes in UTF-8; this one has {size:,}."
                raise ValidationFailed({plan.id_field: [message]})
        try:
            document = self._dialect.encode(record)
        except (TypeError, OverflowError, ValueError) as exc:
            raise ValidationFailed({plan.id_field: [f"The record cannot be stored: {exc}."]}) from None
        values = [document, *self._dialect.column_values(plan, record)]
        if self._bulk is not None:
            self._bulk.touched.add(resource)
            self._upsert(plan, key, values)
        else:
            # The id as given, not the key: PostgreSQL's key wraps it as jsonb, which never equals an int.
            fresh = type(record_id) is int and self._issued.get(resource) == record_id
            self._write(plan, key, values, record, fresh=fresh)
        if isinstance(record_id, int) and not isinstance(record_id, bool) and record_id > self._issued.get(resource, 0):
            self._raise_counter(resource + ID_COUNTER_SUFFIX, record_id)
        return record

    def _upsert(self, plan: TablePlan, key: Any, values: list[Any]) -> None:
        """A bulk load's write: one statement, bookkeeping left to the end of the load."""
        self._run(upsert_sql(plan), (self.company_id, key, *values))

    def _write(self, plan: TablePlan, key: Any, values: list[Any], record: Record, *, fresh: bool) -> None:
        """Insert or update one row, and keep its tallies and text index current.

        ``fresh``: its id was just given, so it is inserted without a look first (unless a row holds it).
        """
        previous: tuple[Any, Record] | None = None
        row_key = self._insert(plan, key, values) if fresh else None
        if row_key is None:
            previous = self._row(plan, key)
            if previous is None:
                row_key = self._insert(plan, key, values)
            else:
                row_key = previous[0]
                assignments = ", ".join(f"{n} = ?" for n in ["doc", *(str(f.column) for f in plan.columns)])
                self._run(
                    f"UPDATE {plan.table} SET {assignments} WHERE company = ? AND id = ?",
                    (*values, self.company_id, key),
                )
        before = None if previous is None else previous[1]
        if plan.resource in self.watched:  # a copy from the JSON just written: a tenth of a deep copy's cost
            self.changes.append(Change(plan.resource, key, before, decode(values[0])))
        self._tally(plan, before, record)
        self._rows_changed(plan)
        if previous is not None:  # a new row is beyond what the text index holds (see ``SqliteTenant._insert``)
            self._text_changed(plan, row_key)

    def _insert(self, plan: TablePlan, key: Any, values: list[Any]) -> Any | None:
        """Insert a row unless one holds its key; the row's key for the text index, or None when none was inserted."""
        inserted = self._run(insert_sql(plan), (self.company_id, key, *values)).rowcount
        return key if inserted else None

    def _text_changed(self, plan: TablePlan, row_key: Any) -> None:
        """A row's search text was changed or removed (engines that index an expression need nothing)."""

    def _rows_changed(self, plan: TablePlan) -> None:
        """A row of the table was written or deleted (engines that keep ``change_token`` move it)."""

    def change_token(self, resource: str) -> Hashable | None:
        """None: this engine cannot tell a write transaction that a resource's records are unchanged."""
        return None

    def delete(self, resource: str, record_id: RecordId) -> Record | None:
        """Remove a record and return it."""
        plan = self._plans(resource)
        key = self._key(plan, record_id)
        if key is None:
            return None
        previous = self._row(plan, key)
        if previous is None:
            return None
        self._run(f"DELETE FROM {plan.table} WHERE company = ? AND id = ?", (self.company_id, key))
        if self._bulk is not None:
            self._bulk.touched.add(resource)
            return previous[1]
        self._text_changed(plan, previous[0])
        self._tally(plan, previous[1], None)
        self._rows_changed(plan)
        if resource in self.watched:
            self.changes.append(Change(resource, key, previous[1], None))
        return previous[1]

    # -- queries ---------------------------------------------------------------------------------
    def query(self, resource: str, query: Query) -> Page:
        """A page of records and the total that match."""
        plan = self._plans(resource)
        return Page(self.find(resource, query), self._count(plan, query.where, query.search))

    def find(self, resource: str, query: Query) -> list[Record]:
        """The records a query selects, ordered and sliced."""
        return [decode(row[0]) for row in self._select("t.doc", self._plans(resource), query)]

    def query_documents(self, resource: str, query: Query) -> DocumentPage:
        """The stored JSON text of the records a query selects, with the total that match: sent as it is."""
        plan = self._plans(resource)
        texts = [row[0] for row in self._select(self._dialect.document_text, plan, query)]
        return DocumentPage(texts, self._count(plan, query.where, query.search))

    def _select(self, column: str, plan: TablePlan, query: Query) -> list[Any]:
        """The rows of one column for the records a query selects, ordered and sliced."""
        if query.offset >= INT64:  # no table reaches that far
            return []
        where, params = self._where(plan, query.where, query.search)
        order, order_params = self._order(plan, query)
        sql = f"SELECT {column} FROM {plan.table} t WHERE {where} ORDER BY {order}"
        params += order_params
        if query.limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [min(query.limit, INT64 - 1), query.offset]
        elif query.offset:
            sql += f" {self._dialect.no_limit} OFFSET ?"
            params.append(query.offset)
        rows: list[Any] = self._run(sql, params).fetchall()
        return rows

    def count(self, resource: str, where: Sequence[Condition] = (), search: str | None = None) -> int:
        """How many records match."""
        return self._count(self._plans(resource), tuple(where), search)

    def lookup(self, resource: str, field_name: str, value: Any) -> list[Record]:
        """Records whose field equals a value, in id order (a column's statement is made once: seeding asks often)."""
        if isinstance(value, (dict, list)):
            return []
        plan = self._plans(resource)
        column = looked_up_column(plan, field_name)
        if column is None or value is None or not self._dialect.held(column[0], value):
            return self.find(resource, Query(where=(Condition(field_name, "eq", value),)))
        kind, name = column
        rows = self._run(lookup_sql(plan.table, name), (self.company_id, self._dialect.bind(kind, value)))
        return [decode(row[0]) for row in rows.fetchall()]

    def taken(self, resource: str, field_name: str, value: Any) -> bool:
        """Whether a record holds the value in the field."""
        return bool(self.lookup(resource, field_name, value))

    def ids(self, resource: str) -> list[RecordId]:
        """Every id, in id order."""
        plan = self._plans(resource)
        rows = self._run(f"SELECT id FROM {plan.table} WHERE company = ? ORDER BY id", (self.company_id,)).fetchall()
        return [row[0] for row in rows]

    def total(self, resource: str, field_name: str, where: Sequence[Condition] = ()) -> int:
        """The sum of an integer field over the matching records."""
        plan = self._plans(resource)
        clause, params = self._where(plan, tuple(where), None)
        value, value_params = self._dialect.value(plan, field_name)
        row = self._run(
            f"SELECT coalesce(sum({value}), 0) FROM {plan.table} t WHERE {clause}", [*value_params, *params]
        ).fetchone()
        return int(row[0] or 0)

    def _count(self, plan: TablePlan, where: tuple[Condition, ...], search: str | None) -> int:
        tallied = self._tallied(plan, where, search)
        if tallied is not None:
            return tallied
        clause, params = self._where(plan, where, search)
        return int(self._run(f"SELECT count(*) FROM {plan.table} t WHERE {clause}", params).fetchone()[0])

    def _tallied(self, plan: TablePlan, where: tuple[Condition, ...], search: str | None) -> int | None:
        """The kept count for no condition or one equality on a tallied field (None: count instead)."""
        if search or self._bulk is not None:
            return None
        if not where:
            field, value = TOTAL, TOTAL
        elif len(where) == 1 and where[0].operator == "eq" and plan.fields.get(where[0].field, None):
            if not plan.fields[where[0].field].tallied:
                return None
            field, tallied = where[0].field, _tally_value(where[0].value)
            if tallied is None:
                return None
            value = tallied
        else:
            return None
        row = self._run(
            "SELECT n FROM tally WHERE company = ? AND resource = ? AND field = ? AND value = ?",
            (self.company_id, plan.resource, field, value),
        ).fetchone()
        return int(row[0]) if row else 0

    def _where(self, plan: TablePlan, where: tuple[Condition, ...], search: str | None) -> tuple[str, list[Any]]:
        clauses = ["t.company = ?"]
        params: list[Any] = [self.company_id]
        dialect = self._dialect
        for condition in where:
            name, operator, wanted = condition.field, condition.operator, condition.value
            expression_params: list[Any] = []
            kind: FieldKind = "any"
            if name == plan.id_field:
                expression = "t.id"
            else:
                kind = plan.kind_of(name)
                compared = wanted if operator == "in" and isinstance(wanted, (list, tuple)) else [wanted]
                whole = all(dialect.held(kind, option) for option in compared)  # else one its column does not keep
                expression, expression_params = dialect.value(plan, name, in_document=not whole)
            if operator in ("contains", "name_eq") and not isinstance(wanted, (list, tuple)):
                wanted = [wanted]
            if operator == "contains":
                options = [dialect.bind("any", option) for option in wanted]
                if not options:
                    clauses.append("1 = 0")
                    continue
                predicate, predicate_params = dialect.contains(plan, name, len(options))
                clauses.append(predicate)
                params += [*predicate_params, *options, *options]
            elif operator == "name_eq":
                named, named_params = dialect.name_of(plan, name)
                options = [dialect.bind("any", option) for option in wanted]
                clauses.append(f"{named} IN ({', '.join('?' * len(options))})" if options else "1 = 0")
                params += [*named_params, *options] if options else []
            elif operator == "in":
                options = [dialect.bind(kind, option) for option in wanted]
                if not options:
                    clauses.append("1 = 0")
                    continue
                clauses.append(f"{expression} IN ({', '.join('?' * len(options))})")
                params += [*expression_params, *options]
            else:
                symbol = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[operator]
                if wanted is None:
                    clauses.append(f"{expression} IS {'NOT ' if operator == 'ne' else ''}NULL")
                    params += expression_params
                    continue
                clauses.append(f"{expression} {symbol} ?")
                params += [*expression_params, dialect.bind(kind, wanted)]
        if search:
            predicate, search_params = dialect.search(plan, search, walk=self._search_walks(plan, search))
            clauses.append(predicate)
            params += search_params
        return " AND ".join(clauses), params

    def _search_walks(self, plan: TablePlan, needle: str) -> bool:
        """Whether this search is walked (asked once per request: a page and its total are planned alike)."""
        key = (plan.table, needle)
        walks = self._walks.get(key)
        if walks is None:
            walks = self._dialect.search_walks(plan, needle, self._run, lambda: self._record_count(plan))
            self._walks[key] = walks
        return walks

    def _order(self, plan: TablePlan, query: Query) -> tuple[str, list[Any]]:
        order = query.order
        if order is None or order.field == plan.id_field:
            return ("t.id DESC" if order and order.descending else "t.id"), []
        key, params = self._dialect.sort_key(plan, order.field, order.descending)
        direction = " DESC" if order.descending else ""
        return f"{key}{direction}, t.id{direction}", params

    # -- tallies and counters --------------------------------------------------------------------
    def _tally(self, plan: TablePlan, before: Record | None, after: Record | None) -> None:
        changes: dict[tuple[str, str], int] = {}
        if before is None:
            changes[(TOTAL, TOTAL)] = 1
        if after is None:
            changes[(TOTAL, TOTAL)] = -1
        for name, field_plan in plan.fields.items():
            if not field_plan.tallied:
                continue
            old = _tally_value(before.get(name)) if before is not None else None
            new = _tally_value(after.get(name)) if after is not None else None
            if old == new:
                continue
            if old is not None:
                changes[(name, old)] = changes.get((name, old), 0) - 1
            if new is not None:
                changes[(name, new)] = changes.get((name, new), 0) + 1
        moved = [(name, value, delta) for (name, value), delta in changes.items() if delta]
        if moved:  # one statement for every count the write moved (an invoice's create moves four)
            self._run(
                "INSERT INTO tally (company, resource, field, value, n) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?)"] * len(moved))
                + " ON CONFLICT (company, resource, field, value) DO UPDATE SET n = tally.n + excluded.n",
                tuple(p for name, value, delta in moved for p in (self.company_id, plan.resource, name, value, delta)),
            )

    def _raise_counter(self, name: str, value: int) -> None:
        if self._bulk is not None:
            self._bulk.counters[(self.company_id, name)] = max(self.counter(name), value)
            return
        self._run(
            "INSERT INTO counters (company, name, value) VALUES (?, ?, ?) ON CONFLICT (company, name) "
            f"DO UPDATE SET value = {self._dialect.greatest()}(counters.value, excluded.value)",
            (self.company_id, name, value),
        )

    def counter(self, name: str) -> int:
        """A named counter's value."""
        if self._bulk is not None and (self.company_id, name) in self._bulk.counters:
            return self._bulk.counters[(self.company_id, name)]
        row = self._run("SELECT value FROM counters WHERE company = ? AND name = ?", (self.company_id, name)).fetchone()
        value = int(row[0]) if row else 0
        if self._bulk is not None:
            self._bulk.counters[(self.company_id, name)] = value
        return value

    def set_counter(self, name: str, value: int) -> None:
        """Set a named counter."""
        self._issued.pop(name.removesuffix(ID_COUNTER_SUFFIX), None)
        if self._bulk is not None:
            self._bulk.counters[(self.company_id, name)] = value
            return
        self._run(
            "INSERT INTO counters (company, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (company, name) DO UPDATE SET value = excluded.value",
            (self.company_id, name, value),
        )

    def next_id(self, resource: str) -> int:
        """The next integer id: past every id ever used and past the number of records (one statement)."""
        plan = self._plans(resource)
        name = resource + ID_COUNTER_SUFFIX
        if self._bulk is not None:
            value = max(self.counter(name), self._record_count(plan)) + 1
            self.set_counter(name, value)
            return value
        self._issued[resource] = self._counted_id(plan, name)
        return self._issued[resource]

    def _counted_id(self, plan: TablePlan, name: str) -> int:
        """Move the id counter on by one in the write transaction and return it (engines may hand out blocks)."""
        row = self._run(
            "INSERT INTO counters (company, name, value) VALUES (?, ?, 1 + coalesce((SELECT n FROM tally "
            "WHERE company = ? AND resource = ? AND field = ? AND value = ?), 0)) ON CONFLICT (company, name) "
            f"DO UPDATE SET value = {self._dialect.greatest()}(counters.value + 1, excluded.value) RETURNING value",
            (self.company_id, name, self.company_id, plan.resource, TOTAL, TOTAL),
        ).fetchone()
        return int(row[0])

    def _record_count(self, plan: TablePlan) -> int:
        """How many records a resource has (read once per bulk load: put keeps the id counter ahead)."""
        if self._bulk is None:
            return self._tallied(plan, (), None) or 0
        key = (self.company_id, plan.resource)
        if key not in self._bulk.counts:
            self._bulk.counts[key] = self.count(plan.resource)
        return self._bulk.counts[key]

    def next_sequence(self, resource: str, field_name: str) -> int:
        """Advance a per-company sequence."""
        name = f"{resource}.{field_name}"
        value = self.counter(name) + 1
        self.set_counter(name, value)
        return value


def looked_up_column(plan: TablePlan, field_name: str) -> tuple[FieldKind, str] | None:
    """The kind and column ``lookup`` compares a field by (None: it reads the documents instead)."""
    field = plan.fields.get(field_name)
    if field is None or field.column is None or field_name == plan.id_field:
        return None
    return field.kind, field.column


@lru_cache(maxsize=1024)
def lookup_sql(table: str, column: str) -> str:
    """The statement of ``lookup`` on a column: what ``find`` builds for one equality, ordered by id."""
    return f"SELECT doc FROM {table} t WHERE t.company = ? AND t.{column} = ? ORDER BY t.id"


def upsert_sql(plan: TablePlan) -> str:
    """The INSERT of one row that replaces the document and columns of a row with the same key."""
    return _upsert_sql(plan.table, plan.column_names)


@lru_cache(maxsize=1024)
def _upsert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ["doc", *columns]
    updates = ", ".join(f"{n} = excluded.{n}" for n in names)
    return (
        f"INSERT INTO {table} (company, id, {', '.join(names)}) VALUES (?, ?, {', '.join('?' * len(names))}) "
        f"ON CONFLICT (company, id) DO UPDATE SET {updates}"
    )


def insert_sql(plan: TablePlan, row_id: str | None = None) -> str:
    """The INSERT of one row (company, id, document and the indexed columns) unless a row holds its key.

    ``row_id``: an SQL expression its ``rid`` takes (SQLite's row id), else the engine picks it.
    """
    return _insert_sql(plan.table, plan.column_names, row_id)


@lru_cache(maxsize=1024)
def _insert_sql(table: str, columns: tuple[str, ...], row_id: str | None) -> str:
    names = ["company", "id", "doc", *columns]
    marks = ["?"] * len(names)
    if row_id is not None:
        names, marks = ["rid", *names], [row_id, *marks]
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(marks)}) ON CONFLICT (company, id) DO NOTHING"


def _tally_value(value: Any) -> str | None:
    """A tallied field's value as the text key of its count (None: not counted)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return dumps(value).decode()


def flush_bulk(run: Run, dialect: Dialect, plans: Sequence[TablePlan], bulk: BulkLoad) -> None:
    """End a bulk load: write the counters, and count every record and tallied value again."""
    for (company, name), value in bulk.counters.items():
        run(
            "INSERT INTO counters (company, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (company, name) DO UPDATE SET value = excluded.value",
            (company, name, value),
        )
    run("DELETE FROM tally", ())
    for plan in plans:
        copied = bulk.tallies.get(plan.resource)
        if copied is not None and plan.resource not in bulk.touched:
            for company, name, tallied, count in copied:
                run(
                    "INSERT INTO tally (company, resource, field, value, n) VALUES (?, ?, ?, ?, ?)",
                    (company, plan.resource, name, tallied, count),
                )
            continue
        run(
            f"INSERT INTO tally (company, resource, field, value, n) "
            f"SELECT company, ?, ?, ?, count(*) FROM {plan.table} GROUP BY company",
            (plan.resource, TOTAL, TOTAL),
        )
        for name, field_plan in plan.fields.items():
            if field_plan.tallied:
                key_sql, counted = dialect.tally_key(plan, name)
                run(
                    f"INSERT INTO tally (company, resource, field, value, n) "
                    f"SELECT company, ?, ?, {key_sql}, count(*) FROM {plan.table} t WHERE {counted} "
                    f"GROUP BY company, {key_sql}",
                    (plan.resource, name),
                )
