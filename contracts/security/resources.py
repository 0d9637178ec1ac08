"""Resources inferred from path shapes: ``/things``, ``/things/{id}`` and everything under it.

A collection is the literal path before an operation's first path parameter (``/v1/customers`` for
``/v1/customers/{customer}``), its item path that parameter (the one naming an id when several do).
Records, their id field and where they sit in bodies come from the item read's and the create's
schemas (``identity``, ``envelopes``); the create is the operation ``creates`` picks whose answer
shows one record with its id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.security.creates import create_candidates
from contracts.security.envelopes import Envelope, item_envelope, list_envelope, record_in, request_envelope, rows_in
from contracts.security.identity import id_field, normalized, singular
from contracts.security.spec_view import PATH_PARAM, Json, Operation, Schema, Spec, flatten


@dataclass
class Resource:
    """A collection path and what can be done to it and its items."""

    name: str
    collection: str
    item: str | None = None
    create: Operation | None = None
    listing: Operation | None = None
    item_ops: list[Operation] = field(default_factory=list)
    id_field: str = "id"
    record: Schema = field(default_factory=dict)  # the record as responses show it
    tried: list[str] = field(default_factory=list)  # creates considered and why each was not taken

    @property
    def names(self) -> tuple[str, str]:
        """The collection's last word and its singular (``Accounts``, ``Account``), to recognise wrappers."""
        last = self.collection.rstrip("/").rsplit("/", 1)[-1]
        return last, singular(last)

    @property
    def get(self) -> Operation | None:
        """GET item (or, without one, the GET under the item that shows the record, as Docker's ``/{id}/json``)."""
        own = self.item_op("GET")
        if own is not None or self.item is None:
            return own
        under = [op for op in self.item_ops if op.method == "GET" and op.path.rsplit("/", 1)[0] == self.item]
        shows = [
            op for op in under if field_in(self.id_field, self.answer_schema(op).get("properties", {})) is not None
        ]
        return next(iter(shows), None)

    def item_op(self, method: str) -> Operation | None:
        """The item path's operation for a method."""
        return next((op for op in self.item_ops if op.method == method and op.path == self.item), None)

    @property
    def create_schema(self) -> Schema:
        """The record's schema in the create request (inside its wrapper, if any)."""
        if self.create is None:
            return {}
        return self.body_envelope(self.create).inner(self.create.body_schema)

    def body_envelope(self, op: Operation) -> Envelope:
        """How ``op``'s request body wraps the record (``{"product": {...}}``, ``{"Contacts": [...]}``)."""
        return request_envelope(op.body_schema, self.record, self.names)

    def wrap(self, op: Operation, record: Json) -> Json:
        """The request body that carries ``record`` to ``op``."""
        return self.body_envelope(op).wrap(record)

    def answer_schema(self, op: Operation) -> Schema:
        """The record's schema in ``op``'s success answer (inside its wrapper, if any)."""
        schema = op.response_schema(op.success)
        return item_envelope(schema, self.id_field, self.names).inner(schema)

    def record_of(self, op: Operation, body: Json) -> Json:
        """The record ``op``'s answer carries (the body itself when none can be found in it)."""
        envelope = item_envelope(op.response_schema(op.success), self.id_field, self.names)
        return record_in(body, envelope, self.id_field)

    def rows_of(self, body: Json) -> list[Any] | None:
        """The rows of the collection's list answer, or None when the body is no list."""
        schema = self.listing.response_schema(self.listing.success) if self.listing is not None else None
        return rows_in(body, list_envelope(schema, self.id_field, self.names), self.id_field)

    def id_of(self, record: Json) -> Any:
        """A record's id (its id field in any spelling: Docker's records say ``ID``, its creates ``Id``), or None."""
        found = field_in(self.id_field, record) if isinstance(record, dict) else None
        return record[found] if isinstance(record, dict) and found is not None else None


def find_resources(spec: Spec) -> dict[str, Resource]:
    """Resources by collection path: ``/x`` with its ``/x/{id}`` item path and everything under it."""
    resources: dict[str, Resource] = {}
    for op in spec.operations:
        if op.path_params or op.public:
            continue
        res = resources.setdefault(op.path, Resource(op.path.strip("/"), op.path))
        if op.method == "GET":
            res.listing = op
    for op in spec.operations:
        at = first_param(op.segments)
        if not at or op.public:
            continue
        collection = "/" + "/".join(op.segments[:at])
        resources.setdefault(collection, Resource(collection.strip("/"), collection)).item_ops.append(op)
    taken: list[Operation] = []  # creates of collections with items: not creates of their own literal paths too
    for res in sorted(resources.values(), key=lambda r: r.item_ops == []):
        settle(res, spec, taken)
        if res.create is not None and res.item_ops:
            taken.append(res.create)
    return resources


def field_in(name: str, fields: Mapping[str, Any]) -> str | None:
    """The key of ``fields`` that is ``name`` in some spelling (``Id`` for ``ID``), or None."""
    if name in fields:
        return name
    return next((key for key in fields if normalized(key) == normalized(name)), None)


def first_param(segments: list[str]) -> int | None:
    """The index of a path's first parameter segment, or None."""
    return next((i for i, s in enumerate(segments) if PATH_PARAM.match(s)), None)


def settle(res: Resource, spec: Spec, taken: list[Operation]) -> None:
    """Pick the item path, the record's schema and id field, and the create operation of a resource.

    The item path is the one with a GET of its own (else one naming an id); operations under another
    parameter that names the same field (``/orders/{order_number}/payments`` beside ``/orders/{number}``)
    act on the same records and stay among the item's operations.
    """
    depth = len([s for s in res.collection.split("/") if s])
    params = list(dict.fromkeys(op.segments[depth] for op in res.item_ops))
    readable = {op.segments[depth] for op in res.item_ops if op.method == "GET" and len(op.segments) == depth + 1}
    chosen = min(params, key=lambda p: (p not in readable, not normalized(p).endswith("id")), default=None)
    if chosen is not None:
        res.item = f"{res.collection}/{chosen}"
    param = chosen[1:-1] if chosen else None
    candidates = [op for op in create_candidates(spec.operations, res.collection) if op not in taken]
    reads = [op for op in res.item_ops if op.method == "GET" and op.path == res.item]
    reads += [op for op in res.item_ops if op.method == "GET" and op.path.rsplit("/", 1)[0] == res.item]
    declared = next(
        (p.get("x-sandbox-id") for op in res.item_ops for p in op.parameters if p.get("in") == "path"), None
    )
    for op in [*reads, *candidates]:
        for schema in _record_candidates(op.response_schema(op.success), res.names):
            found = id_field(
                schema.get("properties") or {}, param, res.names[0], declared or schema.get("x-sandbox-id")
            )
            if found in (schema.get("properties") or {}):
                res.record, res.id_field = schema, found
                break
        if res.record:
            break
    else:
        res.id_field = id_field({}, param, res.names[0], declared)
    props = res.record.get("properties") or {}
    same = {p for p in params if p == chosen or id_field(props, p[1:-1], res.names[0], declared) == res.id_field}
    res.item_ops = [op for op in res.item_ops if op.segments[depth] in same]
    for op in candidates:
        if field_in(res.id_field, res.answer_schema(op).get("properties") or {}) is not None:
            res.create = op
            return
        res.tried.append(f"{op.method} {op.path} answers no record with its {res.id_field!r}")


def _record_candidates(schema: Schema | None, names: tuple[str, str]) -> Iterator[Schema]:
    """A response schema, then each object (or list of objects) inside it, those named for the resource first."""
    if not schema:
        return
    yield schema
    wanted = {normalized(n) for n in names} | {"data"}
    inner = [(name, flatten(sub)) for name, sub in (schema.get("properties") or {}).items()]
    inner.sort(key=lambda found: normalized(found[0]) not in wanted)
    for _, sub in inner:
        yield flatten(sub.get("items")) if "items" in sub else sub


def ref_target(name: str, prop: Schema, resources: Mapping[str, Resource]) -> str | None:
    """The collection a reference property points at, or None when it is no reference."""
    declared = prop.get("x-sandbox-ref")
    candidates: list[str] = []
    if isinstance(declared, str):
        candidates.append("/" + declared.replace("_", "-"))
        candidates.append("/" + declared)
    if name.endswith("_id"):
        stem = name[:-3].replace("_", "-")
        candidates += [f"/{stem}s", f"/{stem[:-1]}ies" if stem.endswith("y") else f"/{stem}es"]
    return next((c for c in candidates if c in resources), None)
