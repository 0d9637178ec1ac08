"""Resources inferred from path shapes: ``/things``, ``/things/{id}`` and everything under it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from contracts.security.spec_view import PATH_PARAM, Operation, Schema, Spec, flatten, main_type


@dataclass
class Resource:
    """A collection path and what can be done to it and its items."""

    name: str
    collection: str
    item: str | None = None
    create: Operation | None = None
    listing: Operation | None = None
    item_ops: list[Operation] = field(default_factory=list)

    @property
    def get(self) -> Operation | None:
        """GET item."""
        return next((op for op in self.item_ops if op.method == "GET" and op.path == self.item), None)

    def item_op(self, method: str) -> Operation | None:
        """The item path's operation for a method."""
        return next((op for op in self.item_ops if op.method == method and op.path == self.item), None)

    @property
    def create_schema(self) -> Schema:
        """The create request's schema."""
        return (self.create.body_schema if self.create else None) or {}


def find_resources(spec: Spec) -> dict[str, Resource]:
    """Resources by collection path: ``/x`` with its ``/x/{id}`` item path and everything under it."""
    resources: dict[str, Resource] = {}
    for op in spec.operations:
        if op.path_params or op.public:
            continue
        res = resources.setdefault(op.path, Resource(op.path.strip("/"), op.path))
        if op.method == "GET":
            res.listing = op
        elif op.method == "POST" and op.body_schema is not None and _creates_record(op):
            res.create = op
    for op in spec.operations:
        segments = op.segments
        if len(segments) < 2 or not PATH_PARAM.match(segments[1]) or op.public:
            continue
        collection = "/" + segments[0]
        res = resources.setdefault(collection, Resource(segments[0], collection))
        res.item = res.item or f"{collection}/{segments[1]}"
        res.item_ops.append(op)
    return resources


def _creates_record(op: Operation) -> bool:
    """A POST whose success response is one record with an id."""
    schema = op.response_schema(op.success) or {}
    inner = (
        flatten((schema.get("properties") or {}).get("data")) if "data" in (schema.get("properties") or {}) else schema
    )
    return main_type(inner) != "array" and "id" in (inner.get("properties") or {})


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
