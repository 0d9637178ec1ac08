"""Inline $refs, merge object allOfs, and derive the request and response views of a schema."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Protocol

JsonSchema = dict[str, Any]


class Lookup(Protocol):
    """Anything that answers ``get(name)`` with a string: a dict, or Werkzeug's Headers."""

    def get(self, key: str, /) -> str | None:
        """The value for ``key``, or None."""


class SchemaResolver:
    """Turns spec fragments into self-contained schemas, caching each resolved $ref."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        self._cache: dict[str, Any] = {}
        self._stack: list[str] = []

    def resolve(self, node: Any) -> Any:
        """A deep copy of ``node`` with every $ref inlined and object allOfs merged."""
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node and isinstance(node["$ref"], str):
            return self._resolve_ref(node["$ref"])
        resolved = {key: self.resolve(value) for key, value in node.items()}
        if isinstance(resolved.get("allOf"), list):
            return merge_all_of(resolved)
        return resolved

    def _resolve_ref(self, ref: str) -> Any:
        if ref in self._cache:
            return copy.deepcopy(self._cache[ref])
        if ref in self._stack:
            return {"description": f"recursive reference {ref} (accepts any value)"}
        self._stack.append(ref)
        try:
            result = self.resolve(self.pointer(ref))
        finally:
            self._stack.pop()
        self._cache[ref] = result
        return copy.deepcopy(result)

    def pointer(self, ref: str) -> Any:
        """Follow a local JSON pointer such as ``#/components/schemas/Customer``."""
        if not ref.startswith("#"):
            raise KeyError(f"only local references are supported, got {ref}")
        node: Any = self._document
        for raw in ref[1:].split("/")[1:]:
            node = node[raw.replace("~1", "/").replace("~0", "~")]
        return node


def merge_all_of(schema: JsonSchema) -> JsonSchema:
    """Fold an allOf of object schemas into one object schema (union of properties and required)."""
    branches = [b for b in schema["allOf"] if isinstance(b, dict)]
    if not all(_is_objectish(branch) for branch in branches):
        return schema
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
    merged["type"] = "object"
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _is_objectish(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type", "object")
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


def request_view(schema: Any) -> Any:
    """The schema a request body must meet: readOnly properties are allowed but never required."""
    return _rewrite(schema, drop_required_if="readOnly", forbid=None)


def response_view(schema: Any) -> Any:
    """The schema a response must meet: writeOnly properties are forbidden."""
    return _rewrite(schema, drop_required_if="writeOnly", forbid="writeOnly")


def _rewrite(schema: Any, *, drop_required_if: str, forbid: str | None) -> Any:
    if isinstance(schema, list):
        return [_rewrite(item, drop_required_if=drop_required_if, forbid=forbid) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: JsonSchema = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {
                name: False
                if forbid and isinstance(sub, dict) and sub.get(forbid) is True
                else _rewrite(sub, drop_required_if=drop_required_if, forbid=forbid)
                for name, sub in value.items()
            }
        elif key in ("example", "examples", "default", "enum", "const"):
            out[key] = value
        else:
            out[key] = _rewrite(value, drop_required_if=drop_required_if, forbid=forbid)
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
