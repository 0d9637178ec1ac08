"""What a write means where the path's shape alone does not say: read from its words and its schemas.

A write on a collection is a create, an update that names its record in the body, or an upsert
(update the record the body names if it exists, else create), as its operationId and summary say
(``createAccount``, ``updatePet``, ``updateOrCreateItems``; a delete by body, Xero's
``deleteBankTransfers``, changes the records it names); a POST that says none of these creates and a
PUT that says none upserts. A literal path under a collection whose last word says create
(``/volumes/create``) creates in that collection, and one whose last word says update
(``/containers/{id}/update``) updates the record. When an item path has no GET of its own, the
GET under it that shows the record (``/containers/{id}/json``) reads it. An update body whose
fields all belong to one object inside the record (Docker's resources, inside ``HostConfig``)
is applied there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from mockserver.spec.fragments import is_param, request_schema
from mockserver.spec.identity import normalized
from mockserver.spec.resolve import JsonSchema, property_names, schema_types

CREATE_WORDS = frozenset({"create", "add", "new", "insert", "register"})
UPDATE_WORDS = frozenset({"update", "replace", "modify", "edit", "change"})
UPSERT_WORDS = frozenset({"upsert"})
DELETE_WORDS = frozenset({"delete", "remove", "destroy"})
_SEGMENT_UPDATES = frozenset({"update", "modify", "edit"})  # ``/change`` often makes a change record instead
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_NESTING = 3  # how deep inside a record an update body's target object may sit


def words(*texts: object) -> frozenset[str]:
    """The lower-case words of identifiers and sentences (``updateOrCreateItems`` -> update, or, create, items)."""
    found: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            found.update(word.lower() for word in _WORD.findall(text))
    return frozenset(found)


def collection_write(method: str, op: Mapping[str, Any]) -> str:
    """The kind of a POST, PUT or PATCH on a collection: create, update_by_body or upsert (see the module)."""
    said = words(op.get("operationId"), op.get("summary"))
    creates, updates = bool(said & CREATE_WORDS), bool(said & UPDATE_WORDS)
    if said & UPSERT_WORDS or (creates and updates):
        return "upsert"
    if creates:
        return "create"
    if updates or said & DELETE_WORDS:  # Xero's POST /BankTransfers deleteBankTransfers: records named in the body
        return "update_by_body"
    return {"post": "create", "put": "upsert"}.get(method, "update_by_body")


def says_create(segment: str) -> bool:
    """Whether a literal path segment is a create verb alone (``create``, ``new``; not ``bulk-create``)."""
    return segment.lower() in CREATE_WORDS


def says_update(segment: str) -> bool:
    """Whether a literal path segment is an update verb alone (``update``, ``edit``; not ``bulk_update``)."""
    return segment.lower() in _SEGMENT_UPDATES


def properties_of(schema: Any) -> dict[str, Any]:
    """An object schema's properties ({} for anything else)."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def has_id(schema: Any, param: str | None) -> bool:
    """Whether a schema has the field an item path parameter names (``{id}`` -> ``Id``), or ``id``."""
    names = {normalized(name) for name in properties_of(schema)}
    wanted = {"id"} | ({normalized(param)} if param else set())
    return bool(names & wanted)


def item_read(
    candidates: Iterable[tuple[str, JsonSchema | None]], param: str | None, others: Iterable[JsonSchema | None]
) -> str | None:
    """Of the GETs under an item (path, record schema each), the one that shows the record, if any.

    It must show the item's id; of several, the one sharing most fields with the record's other
    schemas (list rows, create body) wins, then the larger.
    """
    known = {normalized(name) for schema in others for name in properties_of(schema)}
    best: tuple[int, int, str] | None = None
    for path, schema in candidates:
        if not has_id(schema, param):
            continue
        names = {normalized(name) for name in properties_of(schema)}
        score = (len(names & known), len(names), path)
        if best is None or score[:2] > best[:2]:
            best = score
    return best[2] if best is not None else None


def body_target(sent: JsonSchema | None, record: JsonSchema | None) -> tuple[str, ...]:
    """The path of the object inside the record an update body applies to (() for the record itself).

    Only when none of the body's fields is one of the record's own and all of them are fields of one
    nested object (the shallowest such, first in schema order).
    """
    names = set(properties_of(sent))
    if not names or names & set(properties_of(record)):
        return ()
    level: list[tuple[tuple[str, ...], Any]] = [((), record)]
    for _ in range(_NESTING):
        deeper: list[tuple[tuple[str, ...], Any]] = []
        for path, schema in level:
            for name, sub in properties_of(schema).items():
                inner = properties_of(sub)
                if names <= set(inner):
                    return (*path, name)
                if inner:
                    deeper.append(((*path, name), sub))
        level = deeper
    return ()


def under(path: str, parent: str) -> bool:
    """Whether ``path`` is ``parent`` plus one literal segment (``/volumes/create`` under ``/volumes``)."""
    prefix, last = path.rsplit("/", 1)
    return prefix == parent and bool(last) and not is_param(last)


def creates_one(path: str, op: Mapping[str, Any]) -> bool:
    """Whether a write on ``collection/word`` creates one record there (``/volumes/create`` with an object body)."""
    schema = request_schema(op)
    return says_create(path.rsplit("/", 1)[-1]) and "array" not in schema_types(schema or {})


def create_only(record: JsonSchema, create: JsonSchema | None) -> frozenset[str]:
    """Fields the record marks readOnly that the create body still sets (``code``: fixed once created)."""
    sent = (create or {}).get("properties") or {}
    return frozenset(
        name
        for name in property_names(record, "readOnly")
        if isinstance(sent.get(name), dict) and sent[name].get("readOnly") is not True
    )
