"""Envelopes read from response schemas: where the record sits in a body, and what goes beside it.

A single record may be bare, under any wrapper property (``{"data": {...}}``, ``{"add_on": {...}}``)
or a one-record array (Xero's ``{"Invoices": [{...}]}``). A list may be a bare array or an array
under any property, each row itself wrapped (``{"list": [{"customer": {...}}]}``), with page
information beside it in the body (``has_more``, ``meta.total_count``, ``links.next``) or in
documented headers (``X-Total-Count``, ``Link``). Fields with no page role that the schema requires
get their constant, default, example or plainest value (Stripe's ``"object": "list"``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockserver.spec.conform import conform, conform_scalar
from mockserver.spec.identity import normalized
from mockserver.spec.pages import PageFacts, field_role, header_role, value_reader
from mockserver.spec.resolve import JsonSchema, admitted_types, branches, fixed_values, schema_types

_ITEM_WRAPPERS = frozenset({"data", "item", "result", "record", "object", "resource", "entity"})
_LIST_WRAPPERS = frozenset({"data", "items", "results", "records", "list", "entries", "values", "elements"})
_ANNOTATIONS = frozenset({"description", "title", "example", "examples", "nullable", "deprecated", "$comment"})
_LIST_WRAPPERS |= frozenset({"content", "hits", "rows", "objects", "resources", "collection", "nodes", "edges"})


@dataclass(frozen=True)
class Slot:
    """A body field beside the record(s): its path, its page role (None: a plain value) and schema."""

    path: tuple[str, ...]
    role: str | None
    schema: JsonSchema
    required: bool = True

    @functools.cached_property
    def types(self) -> frozenset[str]:
        """The JSON types the slot's schema admits (worked out once: a page fills its slots on every list)."""
        return admitted_types(self.schema)

    @functools.cached_property
    def nullable(self) -> bool:
        """Whether the slot may hold null."""
        return _nullable(self.schema)

    @functools.cached_property
    def reader(self) -> Callable[[PageFacts], Any]:
        """What reads the slot's role from a page (chosen once: a list fills its slots on every page)."""
        return value_reader(str(self.role), self.schema)

    def page_value(self, page: PageFacts) -> Any:
        """The slot's value for a page, in its schema's type (a page's values are scalars)."""
        return conform_scalar(self.reader(page), self.types)


@dataclass(frozen=True)
class ItemEnvelope:
    """Where one record sits in a response body."""

    wrapper: str | None = None
    as_list: bool = False
    slots: tuple[Slot, ...] = ()
    holds_record: bool = True

    def wrap(self, record: Any) -> Any:
        """The body that shows ``record`` in this envelope."""
        if self.wrapper is None:
            return record
        body: dict[str, Any] = {self.wrapper: [record] if self.as_list else record}
        for slot in self.slots:
            _place(body, slot.path, plain_value(slot.schema))
        return body

    def unwrap(self, body: Any) -> Any:
        """The record a body in this envelope shows (None when it shows none)."""
        if self.wrapper is None:
            return body
        inner = body.get(self.wrapper) if isinstance(body, dict) else None
        if self.as_list:
            return inner[0] if isinstance(inner, list) and inner else None
        return inner

    def wrap_all(self, records: Sequence[Any]) -> Any:
        """The body that shows several records: every one in a list wrapper (Xero's), else the first alone."""
        body = self.wrap(records[0])
        if self.as_list and isinstance(body, dict) and self.wrapper is not None:
            body[self.wrapper] = list(records)
        return body

    def unwrap_all(self, body: Any) -> list[Any]:
        """Every record a body in this envelope carries (a list wrapper may carry several, or none)."""
        if self.as_list and self.wrapper is not None:
            inner = body.get(self.wrapper) if isinstance(body, dict) else None
            return list(inner) if isinstance(inner, list) else []
        return [self.unwrap(body)]

    def record_schema(self, schema: JsonSchema | None) -> JsonSchema | None:
        """The record's schema inside a response schema in this envelope."""
        if schema is None or self.wrapper is None:
            return schema
        inner = (schema.get("properties") or {}).get(self.wrapper)
        if isinstance(inner, dict) and self.as_list:
            inner = inner.get("items")
        return inner if isinstance(inner, dict) else None


@dataclass(frozen=True)
class ListEnvelope:
    """Where the rows of a list sit, how each is wrapped, and the page fields beside them."""

    items: str | None = None
    item: ItemEnvelope = field(default_factory=ItemEnvelope)
    slots: tuple[Slot, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    order: tuple[str, ...] = ()

    @functools.cached_property
    def _slots_by_top(self) -> tuple[tuple[str | None, tuple[Slot, ...]], ...]:
        """Each top-level body field in order, with the slots under it (grouped once, not on every page)."""
        return tuple(
            (top, tuple(slot for slot in self.slots if slot.path[0] == top)) for top in self.order or (self.items,)
        )

    @property
    def pages(self) -> bool:
        """Whether the response tells where the page is (so a list is worth paginating)."""
        return bool(self.headers) or any(slot.role for slot in self.slots)

    def wrap(self, rows: Sequence[Any], page: PageFacts | None) -> tuple[Any, dict[str, str]]:
        """The body and headers that show ``rows`` (``page`` None: the whole result, unpaginated)."""
        shown = [self.item.wrap(row) for row in rows] if self.item.wrapper else rows
        if page is None:
            page = PageFacts(total=len(rows), offset=0, limit=max(len(rows), 1), shown=len(rows), url="")
        headers: dict[str, str] = {}
        for name, role in self.headers:
            value = page.link_header() if role == "link_header" else page.value(role, {})
            if value is not None and value != "":
                headers[name] = str(value).lower() if isinstance(value, bool) else str(value)
        if self.items is None:
            return shown, headers
        body: dict[str, Any] = {}
        for top, slots in self._slots_by_top:
            if top == self.items:
                body[top] = shown
                continue
            for slot in slots:
                value = slot.page_value(page) if slot.role else plain_value(slot.schema)
                if value is None and not slot.nullable:
                    if not slot.required:
                        continue
                    value = plain_value(slot.schema)
                _place(body, slot.path, value)
        return body, headers


def _nullable(schema: JsonSchema) -> bool:
    return "null" in admitted_types(schema) or schema.get("nullable") is True


def _place(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = body
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


def plain_value(schema: JsonSchema) -> Any:
    """A schema-valid value with no meaning of its own: const, default, the one enum value, example, or a zero."""
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    if "default" in schema:
        return conform(copy.deepcopy(schema["default"]), schema)
    if schema.get("enum"):
        return copy.deepcopy(schema["enum"][0])
    if "example" in schema:
        return conform(copy.deepcopy(schema["example"]), schema)
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return conform(copy.deepcopy(schema["examples"][0]), schema)
    types = admitted_types(schema)  # OpenAPI 3.1's ``anyOf: [{type: string}, {type: "null"}]`` too
    if "null" in types or schema.get("nullable") is True:
        return None
    if not schema_types(schema) and branches(schema):
        return plain_value(dict(branches(schema)[0]))  # a value of the first alternative, typed or not
    zeros: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False, "array": [], "string": ""}
    for kind, zero in zeros.items():
        if kind in types:
            return copy.copy(zero)
    value: dict[str, Any] = {}
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if isinstance(properties.get(name), dict):
            value[name] = plain_value(properties[name])
    return value


def _is_record_like(schema: Any) -> bool:
    return isinstance(schema, dict) and bool(schema.get("properties")) and "array" not in schema_types(schema)


def _matches(candidate: Any, record: JsonSchema | None) -> bool:
    """Whether a schema is the record's (the same shared node, or one anyOf/oneOf branch of it)."""
    if record is None or not isinstance(candidate, dict):
        return False
    if candidate is record:
        return True
    branches = [*(candidate.get("anyOf") or ()), *(candidate.get("oneOf") or ())]
    return any(branch is record for branch in branches)


def item_envelope(schema: JsonSchema | None, record: JsonSchema | None, names: Sequence[str] = ()) -> ItemEnvelope:
    """The envelope of a single-record response schema (``names``: the resource's plural and singular)."""
    if schema is None:
        return ItemEnvelope(holds_record=record is None)
    if _matches(schema, record) or not schema.keys() - _ANNOTATIONS:
        return ItemEnvelope()  # the record's own schema, or one that says nothing of the body (``{}``)
    properties = schema.get("properties") or {}
    wanted = {normalized(n) for n in names} | _ITEM_WRAPPERS
    found: tuple[str, bool] | None = None
    for name, sub in properties.items():
        if not isinstance(sub, dict):
            continue
        items = sub.get("items") if "array" in schema_types(sub) else None
        if _matches(sub, record) or _matches(items, record):
            found = (name, items is not None)
            break
        if found is None and normalized(name) in wanted and (_is_record_like(sub) or _is_record_like(items)):
            found = (name, items is not None)
    if found is None and len(properties) == 1:
        name, sub = next(iter(properties.items()))
        if _is_record_like(sub) and (record is None or (_overlaps(sub, record) and _identifies(sub, record))):
            found = (name, False)
    if found is None:
        holds = record is None or _matches(schema, record) or _overlaps(schema, record)
        return ItemEnvelope(holds_record=holds)
    name, as_list = found
    required = set(schema.get("required") or ())
    slots = tuple(
        Slot((other,), None, sub)
        for other, sub in properties.items()
        if other != name and other in required and isinstance(sub, dict)
    )
    return ItemEnvelope(name, as_list, slots)


def request_envelope(schema: JsonSchema | None, record: JsonSchema | None, names: Sequence[str] = ()) -> ItemEnvelope:
    """The envelope of a request body: a wrapper only when it is the body's one property or named for the resource."""
    envelope = item_envelope(schema, record, names)
    properties = (schema or {}).get("properties") or {}
    if envelope.wrapper is None and len(properties) == 1:  # ``{"taxon": {...}}``: an input schema, not the record's
        name, sub = next(iter(properties.items()))
        if (
            _is_record_like(sub)
            and name not in ((record or {}).get("properties") or {})
            and not nested_in(name, record)
        ):
            return ItemEnvelope(name)
    if envelope.wrapper is None or schema is None:
        return ItemEnvelope()
    if normalized(envelope.wrapper) in {normalized(n) for n in names}:
        return ItemEnvelope(envelope.wrapper, envelope.as_list)
    # A body's one property wraps the record unless it is a field of the record, sent as itself: Box's
    # ``{"enterprise": {...}}`` makes a barrier *for* that enterprise, not the enterprise.
    if len(properties) == 1 and envelope.wrapper not in ((record or {}).get("properties") or {}):
        return ItemEnvelope(envelope.wrapper, envelope.as_list)
    return ItemEnvelope()


def nested_in(name: str, record: JsonSchema | None, depth: int = 3) -> bool:
    """Whether an object inside the record (not the record itself) has a field ``name`` (Docker's ``Spec``)."""
    inner = [sub for sub in ((record or {}).get("properties") or {}).values() if isinstance(sub, dict)]
    return any(
        name in (sub.get("properties") or {}) or (depth > 1 and nested_in(name, sub, depth - 1)) for sub in inner
    )


def also_required(record: JsonSchema, views: Sequence[JsonSchema | None]) -> frozenset[str]:
    """The record's optional fields that a view of it requires (OpenAI's certificate rows need ``active``).

    Lists go out as stored, so every record must hold what its list's rows and its get's body require.
    """
    properties = record.get("properties") or {}
    optional = set(properties) - set(record.get("required") or ())
    needed: set[str] = set()
    for view in views:
        if isinstance(view, dict) and view is not record and _overlaps(view, record):
            needed |= optional & set(view.get("required") or ())
    return frozenset(needed)


def _identifies(schema: JsonSchema, record: JsonSchema) -> bool:
    """Whether a view of the record shows its ``id`` where the record has one.

    Box's ``{"watermark": {"created_at", "modified_at"}}`` shares two fields with the folder it is set on,
    and is no view of the folder.
    """
    return "id" not in (record.get("properties") or {}) or "id" in (schema.get("properties") or {})


def _overlaps(schema: JsonSchema, record: JsonSchema) -> bool:
    """Whether a schema shows the record (an inline copy or a view): it needs nothing the record lacks.

    Nor does it fix a field to values the record's never take: OpenAI's deletion notice ``{object:
    certificate.deleted, id}`` has only fields of the certificate, and is no view of it.
    """
    mine, theirs = set(schema.get("properties") or ()), set(record.get("properties") or ())
    required = set(schema.get("required") or ())
    if not (mine & theirs) or not required <= theirs or len(mine - theirs) * 2 > len(mine):
        return False
    return not any(_fixed_apart(schema["properties"][name], record["properties"][name]) for name in mine & theirs)


def _fixed_apart(mine: Any, theirs: Any) -> bool:
    """Whether two schemas of one field each fix its values (``enum`` or ``const``) and share none of them."""
    fixed = [fixed_values(mine), fixed_values(theirs)]
    if fixed[0] is None or fixed[1] is None:
        return False
    return not any(value in fixed[1] for value in fixed[0])


def list_envelope(
    schema: JsonSchema | None,
    record: JsonSchema | None,
    names: Sequence[str] = (),
    headers: Sequence[str] = (),
) -> ListEnvelope | None:
    """The envelope of a list response schema, or None when the schema shows no list."""
    header_roles = tuple((h, role) for h in headers if (role := header_role(h)) is not None)
    if schema is None:
        return None
    if "array" in schema_types(schema):
        row = schema.get("items")
        return ListEnvelope(None, _row_envelope(row, record, names), (), header_roles)
    properties = schema.get("properties") or {}
    arrays = {
        name: sub
        for name, sub in properties.items()
        if isinstance(sub, dict) and "array" in schema_types(sub) and isinstance(sub.get("items"), dict)
    }
    wanted = {normalized(n) for n in names} | _LIST_WRAPPERS
    chosen = next((n for n, sub in arrays.items() if _matches(sub["items"], record)), None)
    chosen = chosen or next((n for n in arrays if normalized(n) in wanted), None)
    if chosen is None and len(arrays) == 1:
        chosen = next(iter(arrays))
    if chosen is None:
        return None
    required = set(schema.get("required") or ())
    slots: list[Slot] = []
    for name, sub in properties.items():
        if name == chosen or not isinstance(sub, dict):
            continue
        slots.extend(_slots((name,), sub, name in required))
    return ListEnvelope(
        chosen, _row_envelope(arrays[chosen]["items"], record, names), tuple(slots), header_roles, tuple(properties)
    )


def _row_envelope(row: Any, record: JsonSchema | None, names: Sequence[str]) -> ItemEnvelope:
    if not isinstance(row, dict) or record is None or _matches(row, record):
        return ItemEnvelope()
    envelope = item_envelope(row, record, names)
    return envelope if envelope.wrapper else ItemEnvelope()


def _slots(path: tuple[str, ...], schema: JsonSchema, required: bool) -> list[Slot]:
    """The page fields in one body field: itself, or the fields of a page-information object."""
    role = field_role(path[-1], schema)
    if role is not None:
        return [Slot(path, role, schema, required)]
    properties = schema.get("properties") or {}
    if properties and "object" in (schema_types(schema) or {"object"}) and len(path) < 3:
        inner_required = set(schema.get("required") or ())
        found: list[Slot] = []
        for name, sub in properties.items():
            if isinstance(sub, dict):
                found.extend(_slots((*path, name), sub, name in inner_required))
        if any(slot.role for slot in found):
            return [slot for slot in found if slot.role or slot.required]
    return [Slot(path, None, schema)] if required else []


def list_rows(schema: JsonSchema | None, names: Sequence[str] = ()) -> JsonSchema | None:
    """The row schema when a response schema is plainly a list (used to classify paths), else None.

    A bare array, or an array of objects under ``data``, under the path's own name, or under a usual
    list name (``items``, ``results``, ...) when everything beside it is page information.
    """
    if schema is None:
        return None
    if "array" in schema_types(schema):
        items = schema.get("items")
        return items if isinstance(items, dict) else None
    properties = schema.get("properties") or {}
    own = {normalized(n) for n in names}
    for name, sub in properties.items():
        if not isinstance(sub, dict) or "array" not in schema_types(sub) or not isinstance(sub.get("items"), dict):
            continue
        key = normalized(name)
        if key == "data" or key in own:
            return _row_record(sub["items"], own)
        if key in _LIST_WRAPPERS and all(
            _is_page_field(other, value) for other, value in properties.items() if other != name
        ):
            return _row_record(sub["items"], own)
    return None


def _row_record(row: JsonSchema, own: set[str]) -> JsonSchema:
    """A row's record: the row, or the record in a wrapper row (Chargebee's ``{"customer": {...}}``)."""
    properties = row.get("properties") or {}
    for name, inner in properties.items():
        if (normalized(name) in own or len(properties) == 1) and _is_record_like(inner):
            return inner  # type: ignore[no-any-return]
    return row


def _is_page_field(name: str, schema: Any) -> bool:
    """A list body's field that is page information or a constant (``"object": "list"``)."""
    if not isinstance(schema, dict):
        return False
    if field_role(name, schema) is not None or "const" in schema or len(schema.get("enum") or ()) == 1:
        return True
    return any(_is_page_field(inner, sub) for inner, sub in (schema.get("properties") or {}).items())


def pick_record(candidates: Sequence[JsonSchema | None]) -> JsonSchema | None:
    """The record schema among candidates (first record-like one; of an anyOf, the branch others share)."""
    present = [c for c in candidates if isinstance(c, dict)]
    for candidate in present:
        if _is_record_like(candidate):
            return candidate
        branches: list[JsonSchema] = [
            b for b in (*(candidate.get("anyOf") or ()), *(candidate.get("oneOf") or ())) if _is_record_like(b)
        ]
        if branches:
            shared = [b for b in branches if any(b is other for other in present)]
            return shared[0] if shared else max(branches, key=lambda b: len(b.get("properties") or ()))
    return present[0] if present else None
