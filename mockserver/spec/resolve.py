"""Resolve $refs by reference, merge object allOfs, and derive the request and response views of a schema.

A resolved schema is a graph of shared nodes, never a recursive copy: every $ref target is resolved
once and then reused, so a large spec whose schemas refer to each other stays the size of the spec.
Consumers must treat resolved schemas as read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

JsonSchema = dict[str, Any]
RECURSIVE = "x-sandbox-recursive"  # marks where a schema refers back into itself


class Lookup(Protocol):
    """Anything that answers ``get(name)`` with a string: a dict, or Werkzeug's Headers."""

    def get(self, key: str, /) -> str | None:
        """The value for ``key``, or None."""


class SchemaResolver:
    """Turns spec fragments into self-contained schemas, resolving each $ref once and sharing the result."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        self._cache: dict[str, Any] = {}
        self._stack: list[str] = []
        # id -> (node, its resolution), for spec nodes and for resolutions themselves (which resolve to
        # themselves): resolving anything twice, even an already resolved schema, costs nothing.
        self._done: dict[int, tuple[Any, Any]] = {}

    def resolve(self, node: Any) -> Any:
        """``node`` with every $ref replaced by its target's shared resolution, and object allOfs merged.

        A reference back into a schema still being resolved (recursion) becomes an accept-anything stub.
        """
        if not isinstance(node, dict | list):
            return node
        hit = self._done.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        resolved: Any
        if isinstance(node, list):
            resolved = [self.resolve(item) for item in node]
        elif "$ref" in node and isinstance(node["$ref"], str):
            resolved = self._resolve_ref(node["$ref"])
        else:
            resolved = {key: self.resolve(value) for key, value in node.items()}
            if isinstance(resolved.get("allOf"), list):
                resolved = merge_all_of(resolved)
        if not self._stack:  # inside a recursion a node's resolution depends on where it was reached
            self._done[id(node)] = (node, resolved)
        self._done[id(resolved)] = (resolved, resolved)
        return resolved

    def _resolve_ref(self, ref: str) -> Any:
        if ref in self._cache:
            return self._cache[ref]
        if ref in self._stack:
            return self._recursion_stub(ref)
        self._stack.append(ref)
        try:
            result = self.resolve(self.pointer(ref))
        finally:
            self._stack.pop()
        self._cache[ref] = result
        return result

    def _recursion_stub(self, ref: str) -> JsonSchema:
        """What a reference back into itself resolves to: its target's declared type, and nothing more to check.

        ``x-sandbox-recursive`` tells the fake data factory to stop here (an empty list, an omitted field).
        """
        stub: JsonSchema = {"description": f"recursive reference {ref}", RECURSIVE: ref}
        target = self.pointer(ref)
        kind = target.get("type") if isinstance(target, dict) else None
        if isinstance(kind, str | list):
            stub["type"] = kind
        return stub

    def pointer(self, ref: str) -> Any:
        """Follow a local JSON pointer such as ``#/components/schemas/Customer``."""
        if not ref.startswith("#"):
            raise RefError(f"only local references are supported, got {ref}")
        node: Any = self._document
        for raw in ref[1:].split("/")[1:]:
            try:
                node = node[raw.replace("~1", "/").replace("~0", "~")]
            except (KeyError, IndexError, TypeError):
                raise RefError(f"$ref {ref} points at nothing in the document") from None
        return node


class RefError(KeyError):
    """A $ref that cannot be followed: not local, or pointing at nothing."""

    def __str__(self) -> str:
        """The message alone (a KeyError would quote it)."""
        return str(self.args[0])


def merge_all_of(schema: JsonSchema) -> JsonSchema:
    """Fold an allOf into one schema: object branches' properties and required united, other keywords first-wins.

    Branches of one other type fold too (Box's ``{allOf: [{type: string, enum: [...]}, {description}]}``);
    branches of different types stay an allOf. Branches that name no type give none (an untyped
    ``additionalProperties: {allOf: [{}, {example}]}`` takes any value, not only objects).
    """
    branches = [b for b in schema["allOf"] if isinstance(b, dict)]
    if not all(_is_objectish(branch) for branch in branches):
        return _merge_one_type(schema, branches)
    merged: JsonSchema = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for branch in [*branches, merged]:
        properties.update(branch.get("properties", {}))
        required.extend(name for name in branch.get("required", []) if name not in required)
        for key, value in branch.items():
            if key not in ("properties", "required"):
                merged.setdefault(key, value)
        if branch.get("additionalProperties") is False:
            merged["additionalProperties"] = False
    if any(_declares_object(branch) for branch in [*branches, schema]):
        merged["type"] = "object"
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _is_objectish(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type", "object")
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


def _declares_object(schema: Mapping[str, Any]) -> bool:
    """Whether a schema says its value is an object (its type, or object keywords)."""
    kind = schema.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind):
        return True
    return any(key in schema for key in ("properties", "required", "additionalProperties"))


def _merge_one_type(schema: JsonSchema, branches: list[JsonSchema]) -> JsonSchema:
    """An allOf whose branches name one type other than object, folded (each keyword's first value); else as is."""
    parts = [*branches, schema]
    kinds = {repr(part["type"]) for part in parts if "type" in part}
    if len(kinds) != 1 or any(_declares_object(part) for part in parts):
        return schema
    merged: JsonSchema = {k: v for k, v in schema.items() if k != "allOf"}
    for branch in branches:
        for key, value in branch.items():
            merged.setdefault(key, value)
    return merged


def request_view(schema: Any) -> Any:
    """The schema a request body must meet: readOnly properties are allowed but never required."""
    return SchemaView.request().of(schema)


def response_view(schema: Any) -> Any:
    """The schema a response must meet: writeOnly properties are forbidden."""
    return SchemaView.response().of(schema)


class SchemaView:
    """One view (request or response) of resolved schemas, each shared node rewritten once and reused."""

    def __init__(self, drop_required_if: str, *, forbid: str | None) -> None:
        self._drop_required_if = drop_required_if
        self._forbid = forbid
        self._done: dict[int, tuple[Any, Any]] = {}  # id(node) -> (node, its view); holding node keeps ids unique

    @classmethod
    def request(cls) -> SchemaView:
        """The request view: readOnly properties are allowed but never required."""
        return cls("readOnly", forbid=None)

    @classmethod
    def response(cls) -> SchemaView:
        """The response view: writeOnly properties are forbidden."""
        return cls("writeOnly", forbid="writeOnly")

    def of(self, schema: Any) -> Any:
        """The view of ``schema``, sharing what earlier calls on this view already rewrote."""
        if not isinstance(schema, dict | list):
            return schema
        hit = self._done.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        if isinstance(schema, list):
            result: Any = [self.of(item) for item in schema]
        else:
            result = _rewrite(schema, self.of, drop_required_if=self._drop_required_if, forbid=self._forbid)
        self._done[id(schema)] = (schema, result)
        return result


def _rewrite(
    schema: JsonSchema, rewrite: Callable[[Any], Any], *, drop_required_if: str, forbid: str | None
) -> JsonSchema:
    """One node of a view; ``rewrite`` makes the view of each child."""
    out: JsonSchema = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {
                name: False if forbid and isinstance(sub, dict) and sub.get(forbid) is True else rewrite(sub)
                for name, sub in value.items()
            }
        elif key in ("example", "examples", "default", "enum", "const"):
            out[key] = value
        else:
            out[key] = rewrite(value)
    properties = schema.get("properties")
    if isinstance(properties, dict) and isinstance(schema.get("required"), list):
        out["required"] = [
            name
            for name in schema["required"]
            if not (isinstance(properties.get(name), dict) and properties[name].get(drop_required_if) is True)
        ]
        if not out["required"]:
            del out["required"]
    return out


def property_names(schema: Mapping[str, Any], flag: str) -> frozenset[str]:
    """Top-level properties of an object schema that carry ``flag`` (readOnly or writeOnly)."""
    properties = schema.get("properties", {})
    return frozenset(name for name, sub in properties.items() if isinstance(sub, dict) and sub.get(flag) is True)


def schema_types(schema: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a schema admits, as a set (empty when it says nothing)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list):
        return frozenset(k for k in kind if isinstance(k, str))
    return frozenset()


def admitted_types(schema: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a schema admits, looking into its anyOf/oneOf branches when it names none itself."""
    types = schema_types(schema)
    if types:
        return types
    return frozenset(kind for branch in branches(schema) for kind in schema_types(branch))


def fixed_values(schema: Any) -> list[Any] | None:
    """The values a schema fixes a field to (its ``const``, or its ``enum``), or None when it fixes none."""
    if not isinstance(schema, Mapping):
        return None
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def branches(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The alternatives of a schema's anyOf and oneOf (none when it has neither)."""
    return [b for key in ("anyOf", "oneOf") for b in schema.get(key) or () if isinstance(b, Mapping)]


_JSON_KINDS = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def has_type_in(value: Any, types: frozenset[str]) -> bool:
    """Whether a parsed JSON value is of one of ``types`` (an integer counts as a number, None as null)."""
    kind = "null" if value is None else _JSON_KINDS.get(type(value), "object")
    return kind in types or (kind == "integer" and "number" in types)
