"""Complete a record to its resource's schema: one step every create, replace, update and seed runs.

A missing property gets its schema ``default``; else null when it admits null; a required or readOnly
one (the server's) gets the plainest value its schema admits. A writable, optional, non-nullable
property with no default is left out: the schema lets it be absent and there is nothing true to put
there (a faked value would be data nobody wrote). writeOnly properties are never filled.

Objects in arrays with an ``id`` property (an invoice's lines) get ids unique within the company and
the resource, numbered by a per-company counter and made like resource ids (the number, a uuid, or a
token that fits the schema), on every path: the faker's made-up ones are dropped before a seeded
record is written. A rewrite keeps the id of an item sent back with one of the record's own ids.
What to fill and where the id arrays are is worked out once per schema.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mockserver.spec import Resource
from mockserver.spec.conform import conform
from mockserver.spec.identity import Identity, identity_of
from mockserver.spec.resolve import admitted_types, branches, fixed_values, schema_types
from mockserver.state.clock import Clock
from mockserver.store import Record, Tenant

_NESTED_ID = "id"


@dataclass(frozen=True)
class _Field:
    """One property of an object schema: whether a missing value is filled, and its nested plan, if any."""

    name: str
    schema: Mapping[str, Any]
    filled: bool
    null: bool  # filled with null: it admits null and declares no default
    inner: Mapping[str, Any] | None  # the object schema of its value (or of its array's items), to descend into
    is_array: bool
    alternatives: tuple[Mapping[str, Any], ...] = ()  # object branches (anyOf/oneOf) its value may take instead


@dataclass(frozen=True)
class _IdArray:
    """An array of objects with an id, at a path of object properties from the record's top."""

    path: tuple[str, ...]
    counter: str  # the per-company counter its fresh ids are numbered from
    identity: Identity  # what an id looks like: the number itself, or a uuid or token made from it


class Completion:
    """What each schema needs filled and where its nested ids are, worked out once (held per engine)."""

    def __init__(self) -> None:
        self._fields: dict[int, tuple[Mapping[str, Any], list[_Field]]] = {}
        self._id_arrays: dict[str, tuple[Mapping[str, Any], list[_IdArray]]] = {}

    def complete(
        self,
        record: Record,
        resource: Resource,
        tenant: Tenant,
        clock: Clock,
        *,
        before: Record | None = None,
        sent: Any = None,
        seeded: bool = False,
    ) -> None:
        """Number nested records, then fill every missing property the schema says how to fill, at any depth.

        ``before`` and ``sent`` are a rewrite's current record and body (an item sent back with one of
        the current ids keeps it); a ``seeded`` record's nested ids also move the counter past them.
        """
        self.number(record, resource, tenant, before=before, sent=sent, seeded=seeded)
        self.fill(record, resource.schema, clock)
        properties = resource.schema.get("properties") or {}
        for name in resource.also_required - record.keys():  # a list's rows or a get's body require them
            sub = properties[name]
            if isinstance(sub, dict) and sub.get("writeOnly") is not True:
                record[name] = None if "default" not in sub and _nullable(sub) else plainest(sub, clock)

    def fill(self, value: Any, schema: Mapping[str, Any], clock: Clock) -> None:
        """Fill a value's missing properties (default, null, or the plainest value when required), at any depth."""
        if isinstance(value, list):
            for item in value:
                self.fill(item, schema, clock)
            return
        if not isinstance(value, dict):
            return
        for field in self._plan(schema):
            if field.filled and field.name not in value:
                value[field.name] = None if field.null else plainest(field.schema, clock)
            if field.inner is not None:
                inner = value.get(field.name)
                if isinstance(inner, list) if field.is_array else isinstance(inner, dict):
                    self.fill(inner, field.inner, clock)
            elif field.alternatives:
                inner = value.get(field.name)
                for item in inner if field.is_array and isinstance(inner, list) else [inner]:
                    branch = _branch_named(item, field.alternatives)
                    if branch is not None:
                        self.fill(item, branch, clock)

    def number(
        self,
        record: Record,
        resource: Resource,
        tenant: Tenant,
        *,
        before: Record | None = None,
        sent: Any = None,
        seeded: bool = False,
    ) -> None:
        """Give each nested item without an id a fresh one (or the current id it was sent back with)."""
        for array in self.id_arrays(resource):
            for items, given, kept in _arrays_at(record, sent, before, array.path):
                _number_items(items, given, kept, array, tenant, seeded=seeded)

    def drop_nested_ids(self, record: Record, resource: Resource) -> None:
        """Remove the ids of a record's nested items (a fake record's: numbering then gives them real ones)."""
        for array in self.id_arrays(resource):
            for items, _given, _kept in _arrays_at(record, None, None, array.path):
                for item in items:
                    if isinstance(item, dict):
                        item.pop(_NESTED_ID, None)

    def id_arrays(self, resource: Resource) -> list[_IdArray]:
        """The arrays of objects with an id in a resource's records (none in most specs)."""
        hit = self._id_arrays.get(resource.name)
        if hit is None or hit[0] is not resource.schema:
            found: list[_IdArray] = []
            _find_id_arrays(resource.schema, (), resource.name, found, set())
            hit = self._id_arrays[resource.name] = (resource.schema, found)
        return hit[1]

    def _plan(self, schema: Mapping[str, Any]) -> list[_Field]:
        """The properties that may need a value or hold nested ones (held with the schema: its id stays unique)."""
        hit = self._fields.get(id(schema))
        if hit is None or hit[0] is not schema:
            fields: list[_Field] = []
            required = schema.get("required", ())
            properties = schema.get("properties") or {}
            for name, sub in properties.items():
                if not isinstance(sub, dict):
                    continue
                filled = _filled(sub, name in required)
                null = "default" not in sub and _nullable(sub)
                inner, is_array = _inner_object(sub)
                alternatives: tuple[Mapping[str, Any], ...] = ()
                if inner is None:
                    alternatives, is_array = _object_branches(sub)
                if filled or inner is not None or alternatives:
                    fields.append(_Field(name, sub, filled, null, inner, is_array, alternatives))
            extra = schema.get("additionalProperties")
            anything = extra if isinstance(extra, dict) else {}
            for name in required if isinstance(required, list) else ():
                if isinstance(name, str) and name not in properties and extra is not False:
                    fields.append(_Field(name, anything, True, _nullable(anything), None, False))  # required, untyped
            hit = self._fields[id(schema)] = (schema, fields)
        return hit[1]


def _filled(schema: Mapping[str, Any], required: bool) -> bool:
    """Whether a missing property is given a value: required, the server's, defaulted or nullable."""
    if schema.get("writeOnly") is True:
        return required
    return required or schema.get("readOnly") is True or "default" in schema or _nullable(schema)


def _nullable(schema: Mapping[str, Any]) -> bool:
    """Whether a schema admits null (a type list with null, a null branch, or OpenAPI 3.0's ``nullable``)."""
    enum = schema.get("enum")
    if isinstance(enum, list) and None not in enum:
        return False
    return "null" in admitted_types(schema) or schema.get("nullable") is True


def _inner_object(schema: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, bool]:
    """The object schema a property's value holds (itself, or its array's items), and whether it is an array."""
    if schema.get("properties"):
        return schema, False
    items = schema.get("items")
    if isinstance(items, dict) and items.get("properties"):
        return items, True
    return None, False


def _object_branches(schema: Mapping[str, Any]) -> tuple[tuple[Mapping[str, Any], ...], bool]:
    """The object branches of a property's anyOf/oneOf (or of its array's items'), and whether it is an array."""
    items = schema.get("items")
    is_array = isinstance(items, dict) and "array" in schema_types(schema)
    holder = items if is_array and isinstance(items, dict) else schema
    found = tuple(branch for branch in branches(holder) if branch.get("properties"))
    return found, is_array and bool(found)


def _branch_named(value: Any, alternatives: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The one branch a value names by a constant it holds (OpenAI's ``type: stored_completions``), else None.

    A value echoed from a request (``{"type": "stored_completions"}``) lacks what the record's branch
    requires (its ``schema``); naming a branch this way is the only sign of which one it takes.
    """
    if not isinstance(value, dict):
        return None
    named = [branch for branch in alternatives if _names(value, branch)]
    return named[0] if len(named) == 1 else None


def _names(value: Mapping[str, Any], branch: Mapping[str, Any]) -> bool:
    """Whether a value holds each constant (``const`` or a one-value ``enum``) of the branch, and at least one."""
    matched = False
    for name, sub in (branch.get("properties") or {}).items():
        constant = fixed_values(sub)
        if constant is None or len(constant) != 1:
            continue
        if name in value and value[name] != constant[0]:
            return False
        matched = matched or name in value
    return matched


def _find_id_arrays(
    schema: Mapping[str, Any], path: tuple[str, ...], resource: str, found: list[_IdArray], seen: set[int]
) -> None:
    """Collect the arrays of objects with an id under an object schema (recursive schemas visited once)."""
    if id(schema) in seen:
        return
    seen.add(id(schema))
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        inner, is_array = _inner_object(sub)
        if inner is None:
            continue
        where = (*path, name)
        id_schema = (inner.get("properties") or {}).get(_NESTED_ID)
        if is_array and isinstance(id_schema, dict):
            counter = f"{resource}.{'.'.join(where)}[].{_NESTED_ID}"
            found.append(_IdArray(where, counter, identity_of(_NESTED_ID, dict(inner), None, None)))
        if not is_array:  # ids of arrays inside arrays' items are left to those items' own schema
            _find_id_arrays(inner, where, resource, found, seen)


def _arrays_at(
    record: Record, sent: Any, before: Record | None, path: tuple[str, ...]
) -> list[tuple[list[Any], Sequence[Any], frozenset[Any]]]:
    """The array at ``path`` in the record, the sent array beside it, and the ids the current record's holds."""
    value: Any = record
    given: Any = sent
    current: Any = before
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
        given = given.get(step) if isinstance(given, dict) else None
        current = current.get(step) if isinstance(current, dict) else None
    if not isinstance(value, list):
        return []
    kept = frozenset(
        item[_NESTED_ID] for item in current or () if isinstance(item, dict) and _hashable(item.get(_NESTED_ID))
    )
    return [(value, given if isinstance(given, list) else (), kept)]


def _hashable(value: Any) -> bool:
    return value is not None and not isinstance(value, (dict, list))


def _number_items(
    items: list[Any], given: Sequence[Any], kept: frozenset[Any], array: _IdArray, tenant: Tenant, *, seeded: bool
) -> None:
    """Number the items lacking an id: a current id they were sent back with, else the next of the counter."""
    taken = {item[_NESTED_ID] for item in items if isinstance(item, dict) and _hashable(item.get(_NESTED_ID))}
    missing = [p for p, item in enumerate(items) if isinstance(item, dict) and item.get(_NESTED_ID) is None]
    integer = array.identity.is_integer
    largest = max((i for i in taken if type(i) is int), default=0) if seeded and integer else 0
    if not missing and not largest:
        return
    counter = tenant.counter(array.counter)
    following = max(counter, largest)
    for position in missing:
        sent = given[position] if position < len(given) and isinstance(given[position], dict) else {}
        back = sent.get(_NESTED_ID)
        new_id: Any = back if _hashable(back) and back in kept and back not in taken else None
        if new_id is None:
            while new_id is None or new_id in taken:  # a client-written id may hold the next one already
                following += 1
                new_id = array.identity.make(array.counter, tenant.company_id, following)
        taken.add(new_id)
        items[position] = {_NESTED_ID: new_id, **items[position]}  # the id first, as records show theirs
    if following != counter:
        tenant.set_counter(array.counter, following)


# The plainest valid value of a formatted string (a uuid must still be one: a fresh one each time).
_FORMATTED: dict[str, Any] = {
    "uuid": lambda: str(uuid.uuid4()),
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}


def plainest(schema: Mapping[str, Any], clock: Clock) -> Any:
    """The plainest value a schema admits: its default, null, the first enum value, or an empty value."""
    if "default" in schema:
        return conform(copy.deepcopy(schema["default"]), schema)
    types = admitted_types(schema)  # OpenAPI 3.1's ``anyOf: [..., {type: "null"}]`` admits null too
    if "null" in types:
        return None
    alternatives = branches(schema)
    if alternatives and not schema_types(schema):
        return plainest(alternatives[0], clock)  # Stripe's ``anyOf: [id string, customer]``: an id, never ``{}``
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("format") == "date-time":
        return clock.timestamp()
    if schema.get("format") == "date":
        return clock.today().isoformat()
    if schema.get("format") in _FORMATTED and (not types or "string" in types):
        made = _FORMATTED[schema["format"]]
        return made() if callable(made) else made
    minimum = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    if "integer" in types:
        return int(minimum) + (1 if "exclusiveMinimum" in schema else 0)
    if "number" in types:
        return float(minimum) + (1.0 if "exclusiveMinimum" in schema else 0.0)
    if "boolean" in types:
        return False
    if "array" in types:
        return []
    if "object" in types:
        return {}
    return "x" * int(schema.get("minLength", 0))
