"""How the PostgreSQL engine reads, compares, sorts, searches and indexes fields of a ``json`` document.

Records are stored as ``json`` (not ``jsonb``: ``json`` keeps the key order, and records are served in
schema order). An indexed scalar field is also copied into a typed column (``numeric``, ``boolean``,
``text COLLATE "C"`` for byte order like SQLite, or ``jsonb``); other fields are read from the document
with ``->``/``->>`` and cast the same way. Ids are ``jsonb``: like SQLite's untyped column they hold an
integer or a string under any resource, and sort numbers first. PostgreSQL text cannot hold NUL, so
records with one are refused and values with one match nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from psycopg.types.json import Jsonb

from mockserver.jsonio import dumps
from mockserver.store.layout import FieldKind, FieldPlan, TablePlan, identifier, safe_field
from mockserver.store.sql import Run, like_pattern, plain_id

_SEPARATOR = "chr(31)"  # between the search fields, so a needle cannot span two of them
# Collations whose lower() folds every script, best first (the default may fold ASCII only).
FOLDING_COLLATIONS = ("und-x-icu", "C.utf8", "C.UTF-8")

# Marks a statement whose best plan depends on its values (a search: a rare needle reads the trigram index, a
# two-letter one the company's rows): sent unprepared, it is planned for its values each time. Prepared, after
# a few runs PostgreSQL keeps a generic plan, and for a search that is the trigram index whatever the needle:
# ``?q=an`` over 44,000 invoices read every entry and row, 115 ms instead of 27 for a scan of the rows.
PLANNED_PER_VALUE = "/* planned per value */"

# The most characters of a string a column (and so each btree index of it) holds. An index entry takes at most
# 2,704 bytes, so a longer value refused its whole record ("index row size exceeds btree version 4 maximum").
# A comparison with a longer value reads the document instead (``held``); rows whose values share their first
# 500 characters sort by id among themselves. A column of a field of no single type ("any", jsonb: Stripe's
# expandable fields, a string id or the object) keeps no object or array (their JSON text does not tell their
# size as jsonb): those rows hold NULL there and compare on the document.
COLUMN_TEXT_CHARS = 500

SHARED_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (company bigint NOT NULL, name text NOT NULL, value bigint NOT NULL, "
    "PRIMARY KEY (company, name))",
    "CREATE TABLE IF NOT EXISTS tally (company bigint NOT NULL, resource text NOT NULL, field text NOT NULL, "
    "value text NOT NULL, n bigint NOT NULL, PRIMARY KEY (company, resource, field, value))",
    "CREATE TABLE IF NOT EXISTS ephemera (namespace text NOT NULL, key text NOT NULL, value text NOT NULL, "
    "expires double precision NOT NULL, PRIMARY KEY (namespace, key))",
    "CREATE INDEX IF NOT EXISTS ephemera_expiry ON ephemera (expires)",
)


@lru_cache(maxsize=4096)
def placeholders(sql: str) -> str:
    """A statement written with ``?`` placeholders in psycopg's style (``%s``, a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def holds_nul(value: Any) -> bool:
    """Whether a JSON-ready value has a NUL character in any string or key (PostgreSQL text cannot)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(holds_nul(item) for item in value)
    return False


def _kept_whole(value: Any) -> bool:
    """Whether an "any" column keeps this value as it is: a number, a boolean, a short string; not a container."""
    if isinstance(value, str):
        return len(value) < COLUMN_TEXT_CHARS
    return not isinstance(value, (dict, list))


def json_param(value: Any) -> Jsonb | None:
    """A value bound as ``jsonb`` (None, which matches nothing, for SQL NULL or a string with NUL)."""
    if value is None:
        return None
    text = dumps(value).decode()
    if "\\u0000" in text and holds_nul(value):
        return None
    return Jsonb(value, dumps=lambda _: text)


def _literal(name: str) -> str:
    """A field name as an SQL string literal (only names ``safe_field`` admitted: no quotes, no ``?``)."""
    if not safe_field(name):
        raise ValueError(f"{name!r} cannot be part of an SQL literal")
    return f"'{name}'"


def typed(doc: str, key: str, kind: FieldKind) -> str:
    """A member of the document ``doc`` (``key`` a literal or ``(?::text)``) as its kind's column holds it."""
    member, text = f"{doc}->{key}", f"({doc}->>{key})"
    if kind in ("integer", "number"):
        return f"CASE WHEN json_typeof({member}) = 'number' THEN {text}::numeric END"
    if kind == "boolean":
        return f"CASE WHEN json_typeof({member}) = 'boolean' THEN {text}::boolean END"
    if kind in ("text", "string"):
        return f"""(CASE WHEN json_typeof({member}) = 'string' THEN {text} END COLLATE "C")"""
    return f"nullif(({member})::jsonb, 'null')"


def sorted_by(value: str, kind: FieldKind) -> str:
    """What a field sorts by: text case-insensitively (ASCII, as SQLite's lower()), the rest as it compares."""
    return f"lower({value})" if kind == "text" else value


SEARCH_COLUMN = "search_text"  # a generated column: the search fields joined and lower-cased


def search_text(doc: str, fields: Sequence[str], collation: str | None) -> str:
    """The lower-cased text a search looks in: the search fields joined by a separator."""
    joined = f" || {_SEPARATOR} || ".join(f"coalesce({doc}->>{_literal(f)}, '')" for f in fields)
    return f'lower(({joined}) COLLATE "{collation}")' if collation else f"lower({joined})"


class PostgresDialect:
    """json member expressions cast by kind, trigram-indexed LIKE search, ids and containers as jsonb."""

    no_limit = "LIMIT ALL"
    document_text = "doc::text"  # the stored document as JSON text, served as it is

    def __init__(self, collation: str | None = None) -> None:
        self.collation = collation  # the collation search folds case with (None: the database default)

    def _key(self, plan: TablePlan, name: str) -> tuple[str, list[Any]]:
        """A field the plan knows (its name checked by ``safe_field``) as a literal; any other name bound."""
        if name in plan.fields:
            return _literal(name), []
        return "(?::text)", [name]

    def value(self, plan: TablePlan, name: str, *, in_document: bool = False) -> tuple[str, list[Any]]:
        """An indexed field's column; any other field (or any field ``in_document``) read from ``t.doc``, cast."""
        field = plan.fields.get(name)
        if field is not None and field.column and not in_document:
            return f"t.{field.column}", []
        if "\x00" in name:  # no document can have that member, and PostgreSQL cannot take the name
            return "NULL::jsonb", []
        key, params = self._key(plan, name)
        sql = typed("t.doc", key, plan.kind_of(name))
        return sql, params * sql.count("?")

    def sort_key(self, plan: TablePlan, name: str, descending: bool) -> tuple[str, list[Any]]:
        """Ascending sorts put NULL last by default; descending ones sort by ``IS NULL`` first.

        A field every record holds (``present``) has no NULL to place: its ascending index serves both directions.
        """
        value, params = self.value(plan, name)
        key = sorted_by(value, plan.kind_of(name))
        field = plan.fields.get(name)
        if descending and not (field is not None and field.present):
            return f"({key} IS NULL), {key}", params * 2
        return key, params

    def bind(self, kind: FieldKind, value: Any) -> Any:
        """A value as the field's column holds it, but whole; None (matching nothing) when it cannot be one."""
        if kind in ("text", "string"):
            return value if isinstance(value, str) and "\x00" not in value else None
        if kind in ("integer", "number", "boolean"):
            return self.column_value(kind, value)
        return json_param(value)  # also what ``contains`` and ``name_eq`` compare the documents' items with

    def held(self, kind: FieldKind, value: Any) -> bool:
        """Whether a column compares with ``value`` as the whole value would (see ``COLUMN_TEXT_CHARS``)."""
        if kind in ("text", "string"):
            return not isinstance(value, str) or len(value) < COLUMN_TEXT_CHARS
        if kind == "any":  # its column holds NULL for values it keeps no room for: IS NULL reads the document
            return value is not None and _kept_whole(value)
        return True

    def column_value(self, kind: FieldKind, value: Any) -> Any:
        """Numbers as numeric, booleans, strings (text kinds) and anything as jsonb; None when it has no place."""
        if kind in ("integer", "number"):
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                return None
            if isinstance(value, float):
                return Decimal(repr(value)) if math.isfinite(value) else None  # the document holds null there
            return value
        if kind == "boolean":
            return value if isinstance(value, bool) else None
        if kind in ("text", "string"):
            return value[:COLUMN_TEXT_CHARS] if isinstance(value, str) and "\x00" not in value else None
        if isinstance(value, str):
            return json_param(value[:COLUMN_TEXT_CHARS])
        return json_param(value) if _kept_whole(value) else None

    def column_values(self, plan: TablePlan, record: dict[str, Any]) -> list[Any]:
        """``column_value`` of each of the plan's columns for a record."""
        return [self.column_value(field.kind, record.get(field.name)) for field in plan.columns]

    def tally_key(self, plan: TablePlan, name: str) -> tuple[str, str]:
        """``->`` gives a value's JSON text as orjson wrote it; arrays, objects and nulls are not counted."""
        member = f"t.doc->{_literal(name)}"
        return f"({member})::text", f"json_typeof({member}) NOT IN ('array', 'object', 'null')"

    def contains(self, plan: TablePlan, name: str, count: int) -> tuple[str, list[Any]]:
        """An array item equal to one of the values, or an object item whose ``name`` is one of them."""
        key, params = self._key(plan, name)
        member = f"t.doc->{key}"
        marks = ", ".join("?" * count)
        items = f"json_array_elements(CASE WHEN json_typeof({member}) = 'array' THEN {member} END) j(v)"
        sql = (
            f"EXISTS (SELECT 1 FROM {items} WHERE j.v::jsonb IN ({marks}) "
            f"OR (json_typeof(j.v) = 'object' AND (j.v->'name')::jsonb IN ({marks})))"
        )
        return sql, params * 2

    def name_of(self, plan: TablePlan, name: str) -> tuple[str, list[Any]]:
        """An object field's ``name`` member as jsonb."""
        key, params = self._key(plan, name)
        return f"nullif((t.doc->{key}->'name')::jsonb, 'null')", params

    def search(self, plan: TablePlan, needle: str, *, walk: bool = False) -> tuple[str, list[Any]]:
        """A LIKE over the stored, lower-cased search text (the column the trigram index holds; never walked)."""
        if not plan.search_fields or "\x00" in needle:
            return "1 = 0", []
        collate = f' COLLATE "{self.collation}"' if self.collation else ""
        wanted = f"lower(CAST(? AS text){collate})"
        if "\x1f" in needle:  # the separator itself: look in each field on its own
            tests = [f"{search_text('t.doc', [f], self.collation)} LIKE {wanted}" for f in plan.search_fields]
            return f"({' OR '.join(tests)}) {PLANNED_PER_VALUE}", [like_pattern(needle)] * len(tests)
        # Folded like the stored text, then compared in the column's own collation: the trigram index
        # serves only that one (with the folding collation on the pattern, PostgreSQL scans every row).
        folded = f'({wanted} COLLATE "default")' if self.collation else wanted
        return f"t.{SEARCH_COLUMN} LIKE {folded} {PLANNED_PER_VALUE}", [like_pattern(needle)]

    def search_walks(self, plan: TablePlan, needle: str, run: Run, rows: Callable[[], int]) -> bool:
        """Never: PostgreSQL's planner weighs the trigram index's matches against a walk itself."""
        return False

    def encode(self, record: dict[str, Any]) -> Any:
        """The record as JSON text (refused with ValueError when it holds a NUL character)."""
        text = dumps(record).decode()
        if "\\u0000" in text and holds_nul(record):
            raise ValueError("PostgreSQL cannot store the NUL character (\\u0000) in text")
        return text

    def id_param(self, plan: TablePlan, record_id: object) -> Any | None:
        """Integers within 64 bits and strings, as jsonb; nothing else names a record."""
        plain = plain_id(record_id)
        return None if plain is None else json_param(plain)

    def greatest(self) -> str:
        """The larger of two values is PostgreSQL's ``greatest``."""
        return "greatest"


COLUMN_TYPES: dict[FieldKind, str] = {
    "integer": "numeric",
    "number": "numeric",
    "boolean": "boolean",
    "text": "text",
    "string": "text",
    "any": "jsonb",
}


def column_type(field: FieldPlan) -> str:
    """The PostgreSQL type of a field's column (text compares in byte order, as SQLite's does)."""
    kind = COLUMN_TYPES.get(field.kind, "jsonb")
    return f'{kind} COLLATE "C"' if kind == "text" else kind


def create_table(plan: TablePlan) -> str:
    """The table of a resource: company, id, the document and a typed column per indexed scalar field."""
    columns = "".join(f", {field.column} {column_type(field)}" for field in plan.columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {plan.table} (company bigint NOT NULL, id jsonb NOT NULL, doc json NOT NULL"
        f"{columns}, PRIMARY KEY (company, id))"
    )


def column_repairs(plan: TablePlan, present: dict[str, str]) -> list[str]:
    """Statements that add (and fill from the documents) columns the spec gained or whose type changed.

    Args:
        plan: The resource's table plan.
        present: The table's current columns and their types (as ``format_type`` names them).
    """
    statements: list[str] = []
    for field in plan.columns:
        column, wanted = str(field.column), COLUMN_TYPES.get(field.kind, "jsonb")
        if present.get(column) == wanted:
            continue
        if column in present:
            statements.append(f"ALTER TABLE {plan.table} DROP COLUMN {column}")
        statements.append(f"ALTER TABLE {plan.table} ADD COLUMN {column} {column_type(field)}")
        value = typed("doc", _literal(field.name), field.kind)
        if field.kind in ("text", "string"):
            value = f"left({value}, {COLUMN_TEXT_CHARS})"
        elif field.kind == "any":  # as ``column_value`` keeps its value
            cut = f"to_jsonb(left({value} #>> '{{}}', {COLUMN_TEXT_CHARS}))"
            kept = f"WHEN 'number' THEN {value} WHEN 'boolean' THEN {value}"
            value = f"CASE jsonb_typeof({value}) WHEN 'string' THEN {cut} {kept} END"
        statements.append(f"UPDATE {plan.table} SET {column} = {value}")
    return statements


def index_statements(plan: TablePlan, existing: set[str]) -> list[str]:
    """The btree indexes of a resource's columns that do not exist yet.

    Every indexed column gets ``(company, column, id)``; a sortable one also gets its sort orders
    (text sorts by ``lower``; descending puts NULL last through ``IS NULL``, which a field every
    record holds does not need: a btree is read backwards as readily). Array and object fields are
    matched item by item, which a btree cannot help with, so they get none.
    """
    return [statement for name, statement in planned_indexes(plan) if name not in existing]


def planned_indexes(plan: TablePlan) -> list[tuple[str, str]]:
    """Every btree index a resource's plan wants, as (name, statement)."""
    table = plan.table
    statements: list[tuple[str, str]] = []

    def index(name: str, columns: str) -> None:
        statements.append((name, f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"))

    for field in plan.columns:
        value = str(field.column)
        if field.compared:
            index(identifier("ix", table, field.name), f"company, {value}, id")
        if field.sortable:
            key = sorted_by(value, field.kind)
            if key != value:
                index(identifier("ix", table, field.name, "asc"), f"company, ({key}), id")
            if not field.present:
                index(identifier("ix", table, field.name, "desc"), f"company, ({key} IS NULL), ({key}) DESC, id DESC")
    return statements


def search_column(plan: TablePlan, collation: str | None) -> str:
    """The statement adding a resource's stored search text, so a search reads a column instead of parsing JSON."""
    expression = search_text("doc", plan.search_fields, collation)
    return f"ALTER TABLE {plan.table} ADD COLUMN {SEARCH_COLUMN} text GENERATED ALWAYS AS ({expression}) STORED"


def search_index(plan: TablePlan) -> tuple[str, str]:
    """The name of a resource's trigram index over its search text and the statement that makes it."""
    name = identifier("ix", plan.table, "search")
    return name, f"CREATE INDEX IF NOT EXISTS {name} ON {plan.table} USING gin ({SEARCH_COLUMN} gin_trgm_ops)"
