"""Pieces read from a spec's operation objects: success and request schemas, examples, collection names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mockserver.spec.envelopes import item_envelope, request_envelope
from mockserver.spec.resolve import JsonSchema

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})  # bodies read as forms


def is_param(segment: str) -> bool:
    """Whether a path segment is a parameter (``{id}``)."""
    return segment.startswith("{") and segment.endswith("}")


def resource_name(segment: str) -> str:
    """The store name of a path segment (``payment-methods`` -> ``payment_methods``)."""
    return re.sub(r"[^0-9A-Za-z_]", "_", segment)


def success_schema(op: Mapping[str, Any]) -> JsonSchema | None:
    """The JSON schema of an operation's first documented 2xx response."""
    for status, response in sorted((op.get("responses") or {}).items(), key=lambda kv: str(kv[0])):
        if str(status).startswith("2") and isinstance(response, dict):
            for media, content in (response.get("content") or {}).items():
                if media.endswith("json") and isinstance(content, dict):
                    schema = content.get("schema")
                    return schema if isinstance(schema, dict) else None
    return None


def request_schema(op: Mapping[str, Any]) -> JsonSchema | None:
    """The JSON schema of an operation's request body, if it takes JSON."""
    for media, content in ((op.get("requestBody") or {}).get("content") or {}).items():
        if media.endswith("json") and isinstance(content, dict) and isinstance(content.get("schema"), dict):
            schema: JsonSchema = content["schema"]
            return schema
    return None


def sent_fields_schema(op: Mapping[str, Any]) -> JsonSchema | None:
    """The schema of the fields a request body sends: its JSON one, else a form's (multipart or urlencoded)."""
    json_schema = request_schema(op)
    if json_schema is not None:
        return json_schema
    for media, content in ((op.get("requestBody") or {}).get("content") or {}).items():
        if media in FORM_TYPES and isinstance(content, dict):
            schema = content.get("schema")
            if isinstance(schema, dict):
                return schema
    return None


def unwrapped(schema: JsonSchema | None, names: tuple[str, ...]) -> JsonSchema | None:
    """The record schema inside a single-record response schema, whatever its wrapper."""
    return item_envelope(schema, None, names).record_schema(schema)


def unwrapped_request(schema: JsonSchema | None, names: tuple[str, ...]) -> JsonSchema | None:
    """The record schema inside a request body schema, whatever its wrapper."""
    return request_envelope(schema, None, names).record_schema(schema)


def example_record(op: Mapping[str, Any] | None, names: tuple[str, ...]) -> Any:
    """The record a get-item operation's example shows (for the id's prefix)."""
    example = success_example(op)
    return item_envelope(success_schema(op or {}), None, names).unwrap(example) if example is not None else None


def example_rows(op: Mapping[str, Any] | None, names: tuple[str, ...]) -> list[Any]:
    """The records a list operation's example shows."""
    example = success_example(op)
    if isinstance(example, list):
        return example
    if isinstance(example, dict):
        return next((v for v in example.values() if isinstance(v, list)), [])
    return []


def success_example(op: Mapping[str, Any] | None) -> Any:
    """The example of an operation's first documented 2xx JSON response."""
    for status, response in sorted(((op or {}).get("responses") or {}).items(), key=lambda kv: str(kv[0])):
        if str(status).startswith("2") and isinstance(response, dict):
            for media, content in (response.get("content") or {}).items():
                if media.endswith("json") and isinstance(content, dict):
                    if "example" in content:
                        return content["example"]
                    examples = content.get("examples")
                    if isinstance(examples, dict) and examples:
                        first = next(iter(examples.values()))
                        return first.get("value") if isinstance(first, dict) else None
            return None
    return None


def collection_names(collections: set[str]) -> dict[str, str]:
    """A store name for each collection path: its last segment, or, when a shallower path took that, more of the path.

    ``/accounts`` is ``accounts`` and ``/admin/cache/accounts`` is ``admin_cache_accounts``: two paths
    ending in the same word are two resources, never one replacing the other.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    for path in sorted(collections, key=lambda p: (sum(1 for s in p.split("/") if s and not is_param(s)), p)):
        literal = [resource_name(s) for s in path.split("/") if s and not is_param(s)]
        name = literal[-1] if literal else resource_name(path)
        for size in range(2, len(literal) + 1):
            if name not in taken:
                break
            name = "_".join(literal[-size:])
        while name in taken:
            name += "_"
        taken.add(name)
        names[path] = name
    return names
