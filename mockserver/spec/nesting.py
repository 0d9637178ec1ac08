"""Child collections: a collection path below an item path (``/parents/{pid}/children``) is scoped to its parent.

A parameter in a collection's path names a parent when the path before it is a collection the
sandbox stores (``/companies/{companyId}/webhooks``: ``companyId`` names a company). The innermost
such parameter is the record's parent (``/sites/{site_id}/accounts/{account_id}/notes``: the
account); the outer ones must hold it. A child keeps its parent's id in the record's field that
names the parent (the parameter's own name, else ``<parent>_id`` in any spelling, else
``<parent>``: ``companyId``, ``plan_id``, ``customer``) when the schema has one of a type the id
fits, else under ``HIDDEN_PARENT``, a key no response shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.spec.fragments import is_param
from mockserver.spec.identity import is_integer_text, normalized
from mockserver.spec.resolve import schema_types

HIDDEN_PARENT = "@parent"  # a child's parent id when its schema has no field for it; never shown


@dataclass(frozen=True)
class ParentLevel:
    """One parent an operation's path names: the stored resource and the path parameter holding its id."""

    resource: str
    param: str


def parent_positions(path: str, collection_of: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """(resource, segment index) of each parameter of a path that names a stored record, outermost first."""
    segments = path.rstrip("/").split("/")
    found: list[tuple[str, int]] = []
    for index, segment in enumerate(segments):
        owner = "/".join(segments[:index])
        if index and is_param(segment) and owner in collection_of:
            found.append((collection_of[owner], index))
    return tuple(found)


def operation_scope(path: str, collection: str, positions: Iterable[tuple[str, int]]) -> tuple[ParentLevel, ...]:
    """The parents an operation's path names, when it lies at or below a child collection's path (else ())."""
    segments, wanted = path.rstrip("/").split("/"), collection.rstrip("/").split("/")
    if len(segments) < len(wanted):
        return ()
    for mine, theirs in zip(segments, wanted, strict=False):
        if mine != theirs and not (is_param(mine) and is_param(theirs)):
            return ()
    return tuple(ParentLevel(resource, segments[index][1:-1]) for resource, index in positions)


def link_field(
    properties: Mapping[str, Any], param: str, parent: str, excluded: Iterable[str], parent_integer: bool
) -> str | None:
    """The property of a child's schema that names its parent (see the module), or None.

    ``parent`` is the parent resource's singular name; ``excluded`` are names that identify the
    child itself (its id and the item path's parameter), never its parent.
    """
    by_norm = {normalized(name): name for name in properties}
    skip = {normalized(name) for name in excluded} | {"id"}
    for candidate in (param, f"{parent}_id", parent):
        wanted = normalized(candidate)
        name = by_norm.get(wanted)
        if name is not None and wanted not in skip and _holds_id(name, properties[name], parent_integer):
            return name
    return None


def _holds_id(name: str, schema: Any, integer: bool) -> bool:
    """Whether a property can hold a parent's id: a string (a number is written out), a number for a numeric id.

    Of alternatives (``anyOf``: an id or the expanded object) one must; a property that says nothing
    of its type counts only when its name says it is an id.
    """
    if not isinstance(schema, dict):
        return False
    types = schema_types(schema) - {"null"}
    if types:
        return "string" in types or (integer and bool(types & {"integer", "number"}))
    options = [*(schema.get("anyOf") or ()), *(schema.get("oneOf") or ())]
    if options:
        return any(_holds_id(name, option, integer) for option in options)
    bare = not ({"properties", "items", "allOf", "$ref"} & schema.keys())
    return bare and normalized(name).endswith("id")


def link_value(schema: Mapping[str, Any], key: str, parent_id: Any) -> Any:
    """A parent's id as a child keeps it in ``key`` (as text in a string field, as a number in a numeric one)."""
    sub = (schema.get("properties") or {}).get(key)
    types = schema_types(sub) - {"null"} if isinstance(sub, dict) else frozenset()
    if "string" in types and not isinstance(parent_id, str):
        return str(parent_id)
    if types and types <= {"integer", "number"} and isinstance(parent_id, str) and is_integer_text(parent_id):
        return int(parent_id)
    return parent_id
