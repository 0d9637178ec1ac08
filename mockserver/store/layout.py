"""Tables and indexes derived from the spec: which fields of each resource a query can filter or sort on.

A field is indexed when a list operation filters on it (a query parameter named like it), sorts on
it (the ``sort`` parameter's values), ranges over it (the resource's date field), or when the engine
looks records up by it (references, unique fields, sequences, a sub-collection's or a child
collection's parent link, the hidden one too).
Nothing here is per-API: a field or resource added to the spec gets its index at the next start.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from mockserver.spec import Operation, Resource, SpecIndex
from mockserver.spec.nesting import HIDDEN_PARENT
from mockserver.spec.resolve import JsonSchema, schema_types

FieldKind = Literal["integer", "number", "boolean", "text", "string", "array", "object", "any"]
IdKind = Literal["integer", "string", "any"]
LIST_KINDS = frozenset({"list", "sublist", "query"})
_CONTROL = frozenset({"page", "limit", "sort", "search", "q", "date_from", "date_to", "offset"})
_SAFE_FIELD = re.compile(r"[A-Za-z0-9_\-$@ ]{1,100}")


@dataclass(frozen=True)
class FieldPlan:
    """One indexed field: its JSON kind decides how it compares and sorts; tallied fields keep counts.

    ``looked_up`` marks the fields the engine itself finds records by (references, unique and
    sequence fields, a parent link), which a scratch database for seeding indexes too. ``present``
    marks a field every record holds a value of (required and not nullable: validation, the
    engine's stamps and its fill of required fields keep it so), so where NULL sorts cannot matter
    and one index serves both sort directions: every index a write must update costs it time.
    """

    name: str
    kind: FieldKind
    sortable: bool = False
    tallied: bool = False
    looked_up: bool = False
    present: bool = False
    filtered: bool = False

    @property
    def compared(self) -> bool:
        """Whether a query compares the field's own value: a filter, a lookup, or a sort by it as it is (not text).

        A text field only sorted by is read through ``lower`` alone, so its plain value needs no index.
        """
        return self.filtered or self.looked_up or not (self.sortable and self.kind == "text")

    @cached_property
    def column(self) -> str | None:
        """The column that holds a copy of a scalar field's value (arrays and objects stay in the document)."""
        return None if self.kind in ("array", "object") else identifier("f", self.name)


@dataclass(frozen=True)
class TablePlan:
    """The table behind one resource: its name, id type, indexed fields and text-search fields."""

    resource: str
    table: str
    id_field: str
    id_kind: IdKind
    fields: dict[str, FieldPlan] = field(default_factory=dict)
    search_fields: tuple[str, ...] = ()

    @cached_property
    def columns(self) -> list[FieldPlan]:
        """The indexed fields copied into columns of their own, in a stable order."""
        return [field for _, field in sorted(self.fields.items()) if field.column]

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        """The names of those columns, in the same order (statements are keyed by them)."""
        return tuple(str(field.column) for field in self.columns)

    def kind_of(self, name: str) -> FieldKind:
        """The kind of a field (``any`` when it is not indexed)."""
        plan = self.fields.get(name)
        return plan.kind if plan else "any"


def identifier(*parts: str) -> str:
    """A safe SQL identifier built from parts (at most 63 characters, as PostgreSQL allows)."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", "_".join(parts)).lower()
    if len(name) <= 63:
        return name
    return name[:54] + "_" + hashlib.sha1(name.encode()).hexdigest()[:8]  # noqa: S324 - a name, not a secret


def safe_field(name: str) -> bool:
    """Whether a field name can be embedded in a JSON path (others are compared in Python)."""
    return bool(_SAFE_FIELD.fullmatch(name))


def field_kind(schema: JsonSchema | None) -> FieldKind:
    """How a property compares: by number, by boolean, as text (case-insensitive sort) or as-is."""
    if not isinstance(schema, dict):
        return "any"
    types = schema_types(schema) - {"null"}
    if types == {"integer"}:
        return "integer"
    if types <= {"integer", "number"} and types:
        return "number"
    if types == {"boolean"}:
        return "boolean"
    if types == {"array"}:
        return "array"
    if types == {"object"}:
        return "object"
    if types == {"string"}:
        free = "enum" not in schema and schema.get("format") in (None, "email")
        return "text" if free else "string"
    return "any"


def _id_kind(resource: Resource) -> IdKind:
    id_schema = (resource.schema.get("properties") or {}).get(resource.id_field)
    kind = field_kind(id_schema)
    if kind == "integer":
        return "integer"
    if kind in ("string", "text"):
        return "string"
    return "any"


def _sort_fields(operation: Operation) -> set[str]:
    sort = next((p for p in operation.parameters if p.name == "sort" and p.location == "query"), None)
    if sort is None:
        return set()
    values = [*(sort.schema.get("enum") or []), sort.schema.get("default")]
    return {str(v).lstrip("+-") for v in values if isinstance(v, str) and v}


def _filter_fields(operation: Operation, properties: Iterable[str]) -> set[str]:
    names = set(properties)
    return {
        p.name for p in operation.parameters if p.location == "query" and p.name not in _CONTROL and p.name in names
    }


def _present(schema: JsonSchema, required: Iterable[str], name: str) -> bool:
    """Whether every record holds a value of a field: the schema requires it and names its types, null not one."""
    types = schema_types(schema)
    return name in required and bool(types) and "null" not in types


def plan_table(resource: Resource, operations: Iterable[Operation], parent_kind: FieldKind = "any") -> TablePlan:
    """The table plan of one resource, from the operations that list it (``parent_kind``: its parent's id kind)."""
    properties: dict[str, JsonSchema] = resource.schema.get("properties") or {}
    required = resource.schema.get("required") or []
    filters: set[str] = set()
    sorts: set[str] = set()
    for operation in operations:
        if operation.resource == resource.name and operation.kind in LIST_KINDS:
            filters |= _filter_fields(operation, properties)
            sorts |= _sort_fields(operation)
    looked_up = {*resource.refs, *resource.unique, *resource.sequences}
    if resource.parent_field:
        looked_up.add(resource.parent_field)
    if resource.date_field:
        sorts.add(resource.date_field)
    fields: dict[str, FieldPlan] = {}
    for name in sorted(filters | sorts | looked_up):
        if name == resource.id_field or name not in properties or not safe_field(name):
            continue
        kind = field_kind(properties[name])
        tallied = name in filters and (kind == "boolean" or (kind == "string" and "enum" in properties[name]))
        sortable = name in sorts and kind not in ("array", "object")
        fields[name] = FieldPlan(
            name,
            kind,
            sortable=sortable,
            tallied=tallied,
            looked_up=name in looked_up,
            present=_present(properties[name], required, name),
            filtered=name in filters,
        )
    if resource.parent_key == HIDDEN_PARENT:  # a child with no field for its parent keeps it here, looked up by it
        fields[HIDDEN_PARENT] = FieldPlan(HIDDEN_PARENT, parent_kind, looked_up=True)
    search = tuple(f for f in resource.search_fields if f in properties and safe_field(f))
    return TablePlan(
        resource=resource.name,
        table=identifier("r", resource.name),
        id_field=resource.id_field,
        id_kind=_id_kind(resource),
        fields=fields,
        search_fields=search,
    )


def plan_tables(index: SpecIndex) -> dict[str, TablePlan]:
    """Every resource's table plan."""
    plans: dict[str, TablePlan] = {}
    for name, resource in index.resources.items():
        parent = index.resources.get(resource.parent or "")
        kind: FieldKind = "any" if parent is None else "integer" if parent.id_is_integer else "string"
        plans[name] = plan_table(resource, index.operations, kind)
    return plans
