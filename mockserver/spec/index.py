"""Index a spec once at start-up: operations, their kinds, and the resources they act on.

Path shapes decide the kind of each operation (see docs/spec-conventions.md); ``x-sandbox-kind``
and ``x-sandbox-resource`` override the guess. Nothing here knows the Invoicing API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from mockserver.spec.envelopes import (
    ItemEnvelope,
    also_required,
    item_envelope,
    list_envelope,
    list_rows,
    pick_record,
    request_envelope,
)
from mockserver.spec.fragments import (
    collection_names,
    example_record,
    example_rows,
    is_param,
    request_schema,
    resource_name,
    sent_fields_schema,
    success_schema,
    unwrapped,
    unwrapped_request,
)
from mockserver.spec.identity import id_field, identity_of
from mockserver.spec.intent import (
    body_target,
    collection_write,
    create_only,
    creates_one,
    has_id,
    item_read,
    says_update,
    under,
)
from mockserver.spec.loader import SpecError
from mockserver.spec.model import Operation, Parameter, Resource, ResponseSpec, response_spec
from mockserver.spec.nesting import HIDDEN_PARENT, ParentLevel, link_field, operation_scope, parent_positions
from mockserver.spec.resolve import (
    JsonSchema,
    RefError,
    SchemaResolver,
    SchemaView,
    property_names,
    schema_types,
)

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
_ITEM_KINDS = {"get": "read", "put": "replace", "patch": "update", "delete": "delete", "post": "update"}
_DEFAULT_SEED = 10
_SINGLE_KINDS = frozenset({"create", "read", "replace", "update", "update_by_body", "upsert", "delete", "action"})
_REWRITES = frozenset({"replace", "update", "update_by_body", "upsert"})
# x-sandbox-kind values (docs/spec-conventions.md) -> the engine's kind for each method.
_DECLARED_KINDS: dict[str, dict[str, str]] = {
    "collection": {"get": "list", "post": "create", "put": "update_by_body", "patch": "update_by_body"},
    "item": _ITEM_KINDS,
    "subcollection": {"get": "sublist"},
    "query": {"get": "query"},
    "action": dict.fromkeys(HTTP_METHODS, "action"),
    "operation": dict.fromkeys(HTTP_METHODS, "operation"),
}


@dataclass
class SpecIndex:
    """The compiled view of a spec: operations by route and by id, and resources by name."""

    document: dict[str, Any]
    base_path: str
    operations: list[Operation]
    resources: dict[str, Resource]
    security_schemes: dict[str, JsonSchema]
    resolver: SchemaResolver

    @property
    def by_operation_id(self) -> dict[str, Operation]:
        """Operations keyed by operationId."""
        return {op.operation_id: op for op in self.operations}

    @classmethod
    def build(cls, document: dict[str, Any]) -> SpecIndex:
        """Classify every operation and infer the resources behind them."""
        try:
            return _Builder(document).build()
        except RefError as exc:
            raise SpecError(f"the spec cannot be served: {exc}") from exc


def singular(plural: str) -> str:
    """A crude English singular, good enough for resource names (categories -> category)."""
    if plural.endswith("ies"):
        return plural[:-3] + "y"
    if plural.endswith(("sses", "ches", "shes", "xes")):
        return plural[:-2]
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    return plural


_FORMAT_SUFFIX = re.compile(r"(?<=[^/])\.(?:json|xml)$", re.IGNORECASE)


def shaped_paths(paths: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Each path as it is classified -> the spec's own, and the path items by the classified paths.

    A format suffix on a path's last segment is no part of its shape: Twilio's ``/Accounts.json`` and
    ``/Accounts/{Sid}.json`` (Shopify, Zendesk and Redmine write theirs so) are a collection and its
    item. A suffix is kept where dropping it would make two paths one.
    """
    real: dict[str, str] = {}
    shaped: dict[str, Any] = {}
    for path, item in paths.items():
        shape = _FORMAT_SUFFIX.sub("", path)
        if shape != path and (shape in paths or shape in shaped):
            shape = path
        real[shape] = path
        shaped[shape] = item
    return real, shaped


class _Builder:
    """One-shot classifier; kept separate so SpecIndex stays a plain value."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.resolver = SchemaResolver(document)
        self.request_view = SchemaView.request()  # one of each for the whole spec, so shared schemas stay shared
        self.response_view = SchemaView.response()
        self.real_path, self.paths = shaped_paths(document.get("paths") or {})
        item_prefixes = {p.rsplit("/", 1)[0] for p in self.paths if is_param(p.rsplit("/", 1)[-1])}
        self.collections = {p for p in item_prefixes if p and not is_param(p.rsplit("/", 1)[-1])}
        self.resources: dict[str, Resource] = {}
        self.collection_of: dict[str, str] = {}
        self.collection_paths: dict[str, list[str]] = {}  # a resource's collection paths
        self.parents_of: dict[str, tuple[tuple[str, int], ...]] = {}  # a collection path's parent parameters
        self.item_reads: set[str] = set()  # GETs under an item path that read the record (no GET of its own)

    def build(self) -> SpecIndex:
        raw_ops = [
            (path, method, self.resolver.resolve(op))
            for path, item in self.paths.items()
            for method, op in (self.resolver.resolve(item) or {}).items()
            if method in HTTP_METHODS and isinstance(op, dict)
        ]
        for path, method, op in raw_ops:
            literal = not any(is_param(segment) for segment in path.split("/"))
            if (
                method == "get"
                and literal
                and path.rsplit("/", 1)[0] not in self.collections
                and op.get("x-sandbox-kind") in (None, "collection")
                and self._list_schema(op, path) is not None
            ):
                self.collections.add(path)
        self.collections |= {p for p in self.paths if self._declared_kind(p) == "collection"}
        names = collection_names(self.collections)
        for path in sorted(self.collections):
            self._add_collection_resource(path, names[path], raw_ops)
        operations = [self._operation(path, method, op) for path, method, op in raw_ops]
        for op in operations:
            if op.kind == "sublist" and op.resource and op.resource not in self.resources:
                self._add_child_resource(op)
        self._finish_resources(operations)
        server = (self.document.get("servers") or [{"url": "/"}])[0].get("url", "/")
        base_path = urlparse(server).path.rstrip("/")
        schemes = (self.document.get("components") or {}).get("securitySchemes") or {}
        return SpecIndex(
            document=self.document,
            base_path=base_path,
            operations=operations,
            resources=self.resources,
            security_schemes=self.resolver.resolve(schemes),
            resolver=self.resolver,
        )

    def _declared_kind(self, path: str) -> str | None:
        for op in (self.paths.get(path) or {}).values():
            if isinstance(op, dict) and op.get("x-sandbox-kind") == "collection":
                return "collection"
        return None

    def _list_schema(self, op: Mapping[str, Any], path: str = "") -> JsonSchema | None:
        """The row schema when the operation's success body is plainly a list (see ``list_rows``)."""
        last = path.rstrip("/").rsplit("/", 1)[-1]
        return list_rows(success_schema(op), (last, singular(last)) if last else ())

    def _add_collection_resource(self, path: str, name: str, raw_ops: list[tuple[str, str, Any]]) -> None:
        ops = {(p, m): op for p, m, op in raw_ops}
        for p, _method, op in raw_ops:
            if p == path and "x-sandbox-resource" in op:
                name = op["x-sandbox-resource"]
        item_paths = [p for p in self.paths if p.rsplit("/", 1)[0] == path and is_param(p.rsplit("/", 1)[-1])]
        # of /contacts/{ContactID} and /contacts/{ContactNumber}, the one naming an id identifies
        item_path = min(item_paths, key=lambda p: not p.rstrip("}").lower().endswith("id"), default=None)
        last = path.rsplit("/", 1)[-1]
        names = (last, singular(last))
        param = item_path.rsplit("/", 1)[-1][1:-1] if item_path else None
        post = self._create_operation(path, ops)
        list_get = ops.get((path, "get")) or next(
            (op for (p, m), op in ops.items() if m == "get" and under(p, path) and self._list_schema(op, p)), None
        )
        create = unwrapped_request(request_schema(post), names) if post else None
        sent = create or (unwrapped_request(sent_fields_schema(post), names) if post else None)  # a form's too
        rows = self._list_schema(list_get, path) if list_get else None
        item_get = ops.get((item_path, "get")) if item_path else None
        if item_path and item_get is None:
            shown = [
                (p, unwrapped(success_schema(op), names))
                for (p, m), op in ops.items()
                if m == "get" and under(p, item_path)
            ]
            read_path = item_read(shown, param, (rows, create))
            if read_path is not None:
                self.item_reads.add(read_path)
                item_get = ops[(read_path, "get")]
        got = unwrapped(success_schema(item_get), names) if item_get else None
        made = unwrapped(success_schema(post), names) if post else None
        candidates = [got, create, rows, made]
        # the representation that shows the item's id wins over an input schema without it (Solidus' taxonomy-input)
        schema = pick_record([*(c for c in candidates if has_id(c, param)), *candidates]) or {"type": "object"}
        param_spec = self._path_parameter(item_path, param, ops) if item_path and param else {}
        declared = param_spec.get("x-sandbox-id") or schema.get("x-sandbox-id")
        positions = tuple(p for p in parent_positions(path, self.collection_of) if p[0] != name)
        properties: dict[str, Any] = schema.get("properties") or {}
        link = self._link_field(path, positions[-1], properties, param) if positions else None
        own = {k: v for k, v in properties.items() if k != link}  # the parent's id never identifies the child
        field_name = id_field(own, param, singular(name), str(declared or "") or None)
        examples = [example_record(item_get, names), *example_rows(list_get, names)]
        identity = identity_of(field_name, schema, param_spec.get("schema"), create, examples)
        list_op = list_get or {}
        creatable = post is not None
        seed = list_op.get("x-sandbox-seed", _DEFAULT_SEED if creatable else 0)
        self.collection_of[path] = name
        self.collection_paths.setdefault(name, []).append(path)
        self.parents_of[path] = positions
        previous = self.resources.get(name)
        if not positions and previous is not None and previous.parent_key is not None:
            # one resource declared at a child collection and a top-level path: it stays a child
            link, positions = previous.parent_field, ((previous.parent or "", 0),)
        self.resources[name] = Resource(
            name=name,
            schema=schema,
            id_field=identity.field,
            id_is_integer=identity.is_integer,
            also_required=also_required(schema, (got, rows, made)),  # what the responses that show it require
            seed_count=int(seed),
            creatable=creatable,
            identity=identity,
            create_only=create_only(schema, sent),
            parent=positions[-1][0] if positions else None,
            parent_field=link,
            parent_key=(link or HIDDEN_PARENT) if positions else None,
        )

    def _link_field(
        self, path: str, innermost: tuple[str, int], properties: Mapping[str, Any], param: str | None
    ) -> str | None:
        """The field of a child collection's records that names its parent (see ``nesting.link_field``)."""
        parent = self.resources[innermost[0]]
        parent_param = path.split("/")[innermost[1]][1:-1]
        return link_field(properties, parent_param, singular(parent.name), [param or ""], parent.id_is_integer)

    def _named_records(self, path: str) -> tuple[ParentLevel, ...]:
        """Each stored record a path names by id (``/charges/{id}/receipt`` names a charge)."""
        segments = path.rstrip("/").split("/")
        return tuple(ParentLevel(name, segments[at][1:-1]) for name, at in parent_positions(path, self.collection_of))

    def _scope(self, path: str, resource: str | None) -> tuple[ParentLevel, ...]:
        """The parents an operation's path names when it is at or below one of its resource's child collections."""
        for collection in self.collection_paths.get(resource or "", ()):
            found = operation_scope(path, collection, self.parents_of[collection])
            if found:
                return found
        return ()

    def _create_operation(self, path: str, ops: Mapping[tuple[str, str], Any]) -> Any:
        """The operation that creates records of a collection: a write on it, or on a create path under it."""
        for method in ("post", "put", "patch"):
            op = ops.get((path, method))
            if op is not None and self._collection_kind(method, op) in ("create", "upsert"):
                return op
        for (p, method), op in ops.items():
            if method in ("post", "put") and under(p, path) and creates_one(p, op):
                declared = _DECLARED_KINDS.get(str(op.get("x-sandbox-kind")), {}).get(method)
                if declared in (None, "create"):
                    return op
        return None

    @staticmethod
    def _collection_kind(method: str, op: Mapping[str, Any]) -> str:
        """The kind of an operation on a collection path: declared, else what its method and words say."""
        declared = _DECLARED_KINDS.get(str(op.get("x-sandbox-kind")), {}).get(method)
        if declared is not None:
            return declared
        if method in ("post", "put", "patch"):
            return collection_write(method, op)
        return "list" if method == "get" else "operation"

    def _path_parameter(self, path: str, name: str, ops: Mapping[tuple[str, str], Any]) -> dict[str, Any]:
        """The resolved declaration of a path parameter (path level, or any operation's)."""
        declared = [*((self.paths.get(path) or {}).get("parameters") or [])]
        for method in HTTP_METHODS:
            declared.extend((ops.get((path, method)) or {}).get("parameters") or [])
        for raw in declared:
            parameter = self.resolver.resolve(raw)
            if isinstance(parameter, dict) and parameter.get("name") == name and parameter.get("in") == "path":
                return parameter
        return {}

    def _operation(self, path: str, method: str, op: dict[str, Any]) -> Operation:
        kind, resource, parent = self._classify(path, method, op)
        real = self.real_path.get(path, path)  # what the route matches: the spec's path, suffix and all
        params: dict[tuple[str, str], Parameter] = {}
        for raw in [*((self.paths[path] or {}).get("parameters") or []), *(op.get("parameters") or [])]:
            p = self.resolver.resolve(raw)
            style_default = p.get("in") in ("query", "cookie")
            params[(p["name"], p["in"])] = Parameter(
                name=p["name"],
                location=p["in"],
                required=bool(p.get("required", p["in"] == "path")),
                schema=p.get("schema") or {},
                explode=bool(p.get("explode", style_default)),
                allow_empty=p.get("allowEmptyValue") is True and p["in"] == "query",
            )
        body = op.get("requestBody") or {}
        request_content = {
            media: self.request_view.of(content.get("schema") or {})
            for media, content in (body.get("content") or {}).items()
        }
        responses = {
            str(status): response_spec(str(status), r, self.response_view)
            for status, r in (op.get("responses") or {}).items()
        }
        success = next(  # a 2xx, else a documented redirect (Twilio's payload data: only a 307), else default
            (responses[s] for prefix in "23" for s in sorted(responses) if s.startswith(prefix)),
            responses.get("default") or ResponseSpec("200", {}, {}),
        )
        security = op.get("security", self.document.get("security", []))
        record = self.resources[resource].schema if resource in self.resources else None
        last = resource or path.rstrip("/").rsplit("/", 1)[-1]
        names = (last, singular(last))
        raw_success = success_schema(op)
        items = item_envelope(raw_success, record, names)
        if items.as_list and kind not in _SINGLE_KINDS:  # an array of records, not one record in an array
            items = ItemEnvelope(items.wrapper, holds_record=items.holds_record)
        listed = (
            list_envelope(raw_success, record, names, tuple(success.headers))
            if kind in ("list", "sublist", "query")
            else None
        )
        envelope = listed.items if listed is not None else items.wrapper
        sent = request_envelope(request_schema(op), record, names) if kind in _SINGLE_KINDS else ItemEnvelope()
        body_path = body_target(sent.record_schema(request_schema(op)), record) if kind in _REWRITES else ()
        parent_field = None
        if parent is not None:
            owner = self.resources.get(parent)
            parent_field = singular(parent) + "_id"
            if record is not None and owner is not None and resource in self.resources:
                excluded = [self.resources[resource].id_field]
                found = link_field(
                    record.get("properties") or {},
                    path.split("/")[-2][1:-1],
                    singular(parent),
                    excluded,
                    owner.id_is_integer,
                )
                parent_field = found or parent_field
        return Operation(
            operation_id=op.get("operationId") or f"{method}_{re.sub(r'[^0-9A-Za-z]+', '_', real).strip('_')}",
            method=method.upper(),
            path=real,
            kind=kind,
            resource=resource,
            parameters=tuple(params.values()),
            request_content=request_content,
            body_required=bool(body.get("required", False)),
            responses=responses,
            success=success,
            security=tuple({k: tuple(v) for k, v in req.items()} for req in security),
            extensions={k: v for k, v in op.items() if k.startswith("x-")},
            envelope=envelope,
            parent=parent,
            parent_field=parent_field,
            item_envelope=items,
            list_envelope=listed,
            request_envelope=sent,
            body_path=body_path,
            scope=() if kind == "sublist" else self._scope(path, resource),
            names_records=self._named_records(path),
        )

    def _classify(self, path: str, method: str, op: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
        """(kind, resource, parent resource) of one operation, from its path shape."""
        segments = path.rstrip("/").split("/")
        declared_resource = op.get("x-sandbox-resource")
        kind = _DECLARED_KINDS.get(str(op.get("x-sandbox-kind")), {}).get(method)
        prefix, last = path.rsplit("/", 1)
        if path in self.collections:
            res = declared_resource or self.collection_of.get(path)
            return self._collection_kind(method, op), res, None
        if is_param(last) and prefix in self.collections:
            res = declared_resource or self.collection_of.get(prefix)
            return kind or _ITEM_KINDS.get(method, "operation"), res, None
        if len(segments) >= 4 and is_param(segments[-2]) and "/".join(segments[:-2]) in self.collections:
            parent_path = "/".join(segments[:-2])
            parent = self.collection_of.get(parent_path)
            if path in self.item_reads and method == "get":
                return kind or "read", declared_resource or parent, None
            if method in ("post", "put", "patch") and says_update(last):
                return kind or "update", declared_resource or parent, None
            if method == "get" and self._list_schema(op, path) is not None:
                child = declared_resource or resource_name(last)
                return kind or "sublist", child, parent
            if method in ("post", "put", "patch"):
                return kind or "action", declared_resource or parent, None
            return kind or "operation", declared_resource or parent, None
        if prefix in self.collections and method == "get" and self._list_schema(op, path) is not None:
            return kind or "query", declared_resource or self.collection_of.get(prefix), None
        if prefix in self.collections and method in ("post", "put") and creates_one(path, op):
            return kind or "create", declared_resource or self.collection_of.get(prefix), None
        return kind or "operation", declared_resource, None

    def _add_child_resource(self, op: Operation) -> None:
        assert op.resource is not None
        names = (op.resource, singular(op.resource))
        schema = list_rows(op.success.json_schema, names) or {"type": "object"}
        properties = schema.get("properties") or {}
        identity = identity_of(id_field(properties, None, singular(op.resource)), schema, None, None)
        self.resources[op.resource] = Resource(
            name=op.resource,
            schema=schema,
            id_field=identity.field,
            id_is_integer=identity.is_integer,
            parent=op.parent,
            parent_field=op.parent_field if op.parent_field in properties else None,
            identity=identity,
        )

    def _finish_resources(self, operations: list[Operation]) -> None:
        """Fill in what depends on every resource being known: refs, uniques, search fields."""
        names = set(self.resources)
        for resource in self.resources.values():
            schema = resource.schema
            properties: dict[str, Any] = schema.get("properties") or {}
            link = resource.parent_field if resource.parent_key else None  # a child's parent: stamped, not faked
            resource.read_only = property_names(schema, "readOnly")
            resource.write_only = property_names(schema, "writeOnly")
            for prop, sub in properties.items():
                if not isinstance(sub, dict):
                    continue
                target = sub.get("x-sandbox-ref") or _guess_ref(prop, names)
                if target and target in names and prop not in (resource.id_field, link):
                    resource.refs[prop] = target
                if sub.get("x-sandbox-sequence"):
                    resource.sequences[prop] = str(sub["x-sandbox-sequence"])
            resource.unique = tuple(
                p for p, s in properties.items() if isinstance(s, dict) and s.get("x-sandbox-unique")
            )
            resource.date_field = schema.get("x-sandbox-date-field") or next(
                (p for p, s in properties.items() if isinstance(s, dict) and s.get("format") == "date"), None
            )
            resource.search_fields = tuple(
                schema.get("x-sandbox-search")
                or [p for p, s in properties.items() if _is_text(s) and p not in resource.write_only]
            )


def _is_text(schema: Any) -> bool:
    """A plain free-text string property (not an enum, date, or other formatted value)."""
    return (
        isinstance(schema, dict)
        and schema_types(schema) & {"string"} == {"string"}
        and "enum" not in schema
        and schema.get("format") in (None, "email")
    )


def _guess_ref(prop: str, names: set[str]) -> str | None:
    """``customer_id`` -> ``customers`` when such a resource exists."""
    if not prop.endswith("_id"):
        return None
    base = prop[:-3]
    for candidate in (base + "s", base[:-1] + "ies" if base.endswith("y") else "", base + "es", base):
        if candidate in names:
            return candidate
    return None
