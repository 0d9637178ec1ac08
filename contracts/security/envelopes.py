"""Where records sit in bodies, read from the spec's schemas: bare, wrapped, or alone in a list wrapper.

A single record may be bare, under a wrapper property (``{"data": {...}}``, ``{"add_on": {...}}``) or the
one element of a list wrapper (Xero's ``{"Accounts": [{...}]}``); a list is a bare array or an object
with an array property of any name (``data``, ``Invoices``). Request bodies may wrap the record the same
way (Solidus' ``{"product": {...}}``, Xero's ``{"Contacts": [...]}``). What a schema does not settle is
found in the body itself, by the record's id field.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from contracts.security.identity import normalized
from contracts.security.spec_view import Json, Schema, flatten, main_type


@dataclass(frozen=True)
class Envelope:
    """A body's wrapper property (None: the record or list is the body) and whether it holds a list."""

    wrapper: str | None = None
    as_list: bool = False

    def wrap(self, record: Json) -> Json:
        """The body carrying ``record`` in this envelope."""
        if self.wrapper is None:
            return record
        return {self.wrapper: [record] if self.as_list else record}

    def unwrap(self, body: Json) -> Json:
        """The record a body in this envelope carries (the first of a list wrapper), or None."""
        if self.wrapper is None:
            return body
        inner = body.get(self.wrapper) if isinstance(body, dict) else None
        if self.as_list:
            return inner[0] if isinstance(inner, list) and inner else None
        return inner

    def inner(self, schema: Schema | None) -> Schema:
        """The record's schema inside a body schema in this envelope."""
        schema = schema or {}
        if self.wrapper is None:
            return schema
        sub = flatten((schema.get("properties") or {}).get(self.wrapper))
        return flatten(sub.get("items")) if self.as_list else sub


def has(fields: Any, name: str) -> bool:
    """Whether a record (or a schema's properties) has the field ``name`` in some spelling (``Id`` for ``ID``)."""
    return isinstance(fields, dict) and (name in fields or normalized(name) in {normalized(k) for k in fields})


def _holders(schema: Schema) -> dict[str, tuple[bool, Schema]]:
    """The properties of a body schema that hold an object or a list of objects: name -> (list?, object schema)."""
    found: dict[str, tuple[bool, Schema]] = {}
    for name, sub in (schema.get("properties") or {}).items():
        sub = flatten(sub)
        as_list = main_type(sub) == "array" or "items" in sub
        inner = flatten(sub.get("items")) if as_list else sub
        if inner.get("properties"):
            found[name] = (as_list, inner)
    return found


def item_envelope(schema: Schema | None, id_field: str, names: Collection[str]) -> Envelope:
    """Where one record sits in a response schema: bare when it shows the id field, else the wrapper that does.

    ``names`` are the resource's plural and singular; a wrapper holding the id, named for the resource or
    ``data``, wins; then one holding the id; a list wrapper counts only when named for the resource.
    """
    props = (schema or {}).get("properties") or {}
    if not props or has(props, id_field):
        return Envelope()
    wanted = {normalized(n) for n in names} | {"data"}
    holding = {
        name: as_list
        for name, (as_list, inner) in _holders(schema or {}).items()
        if has(inner.get("properties") or {}, id_field) and (not as_list or normalized(name) in wanted - {"data"})
    }
    named = [name for name in holding if normalized(name) in wanted]
    chosen = named[0] if named else (next(iter(holding)) if len(holding) == 1 else None)
    return Envelope(chosen, holding[chosen]) if chosen is not None else Envelope()


def list_envelope(schema: Schema | None, id_field: str, names: Collection[str]) -> Envelope:
    """Where a list's rows sit in a response schema: a bare array, else its array of records (named, data, alone)."""
    if schema is None or main_type(schema) == "array":
        return Envelope(None, True)
    arrays = {name: inner for name, (as_list, inner) in _holders(schema).items() if as_list}
    wanted = {normalized(n) for n in names} | {"data"}
    chosen = next((n for n in arrays if normalized(n) in wanted), None)
    chosen = chosen or next((n for n, inner in arrays.items() if has(inner.get("properties") or {}, id_field)), None)
    if chosen is None and len(arrays) == 1:
        chosen = next(iter(arrays))
    return Envelope(chosen, True)


def request_envelope(schema: Schema | None, record: Schema, names: Collection[str]) -> Envelope:
    """The wrapper of a request body: the record's holder named for the resource, or the body's only property.

    A holder is a property with an object (or a list of them) that is none of the record's own fields.
    """
    props = (schema or {}).get("properties") or {}
    own = set(record.get("properties") or {})
    holders = {name: found for name, found in _holders(schema or {}).items() if name not in own}
    wanted = {normalized(n) for n in names}
    named = next((name for name in holders if normalized(name) in wanted), None)
    if named is not None:
        return Envelope(named, holders[named][0])
    if len(props) == 1 and holders:
        name, (as_list, _) = next(iter(holders.items()))
        return Envelope(name, as_list)
    return Envelope()


def record_in(body: Json, envelope: Envelope, id_field: str) -> Json:
    """The record a single-record answer carries: where the envelope says, else the one object showing the id.

    Falls back to the body itself (an error, or a record without its id), as the caller must then judge.
    """
    inner = envelope.unwrap(body) if envelope.wrapper is not None else None
    if isinstance(inner, dict):
        return inner
    if not isinstance(body, dict) or has(body, id_field):
        return body
    data = body.get("data")
    if isinstance(data, dict) and set(body) <= {"data", "links", "meta"}:
        return data
    holders = [v for v in body.values() if has(v, id_field)]
    holders += [v[0] for v in body.values() if isinstance(v, list) and len(v) == 1 and has(v[0], id_field)]
    return holders[0] if len(holders) == 1 else body


def rows_in(body: Json, envelope: Envelope, id_field: str) -> list[Any] | None:
    """The rows of a list answer: where the envelope says, else ``data``, the one array, or the one array of records."""
    if isinstance(body, list):
        return body
    if not isinstance(body, dict):
        return None
    if envelope.wrapper is not None and isinstance(body.get(envelope.wrapper), list):
        return list(body[envelope.wrapper])
    arrays = {name: value for name, value in body.items() if isinstance(value, list)}
    if isinstance(arrays.get("data"), list):
        return list(arrays["data"])
    if len(arrays) == 1:
        return list(next(iter(arrays.values())))
    records = [v for v in arrays.values() if v and all(has(r, id_field) for r in v)]
    return list(records[0]) if len(records) == 1 else None
