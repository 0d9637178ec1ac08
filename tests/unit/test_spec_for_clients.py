"""The shape of openapi.yaml that code generators rely on: ids, tags, typed errors, request schemas, enum names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SPEC

from mockserver.spec import load_spec
from mockserver.spec.resolve import SchemaResolver

_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
_ERROR = "#/components/schemas/Error"
_VALIDATION_ERROR = "#/components/schemas/ValidationError"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_spec(SPEC)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``METHOD path``, operation) for every operation of the paths and of the webhooks."""
    for section in ("paths", "webhooks"):
        for path, item in (document.get(section) or {}).items():
            for method in _METHODS:
                if isinstance(item.get(method), dict):
                    yield f"{method.upper()} {path}", item[method]


def refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` string in a document."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def required_read_only(schema: Any, at: str = "", seen: set[int] | None = None) -> Iterator[str]:
    """Where a resolved schema requires a readOnly member, at any depth."""
    seen = set() if seen is None else seen
    if not isinstance(schema, dict) or id(schema) in seen:
        return
    seen.add(id(schema))
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if isinstance(properties.get(name), dict) and properties[name].get("readOnly") is True:
            yield f"{at}/{name}"
    for name, sub in properties.items():
        yield from required_read_only(sub, f"{at}/{name}", seen)
    yield from required_read_only(schema.get("items"), f"{at}/items", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for index, branch in enumerate(schema.get(key) or ()):
            yield from required_read_only(branch, f"{at}/{key}/{index}", seen)


def test_every_operation_has_a_unique_camel_case_operation_id_and_one_declared_tag(document: dict[str, Any]) -> None:
    declared = {tag["name"] for tag in document["tags"]}
    seen: dict[str, str] = {}
    for where, operation in operations(document):
        operation_id = operation.get("operationId", "")
        assert re.fullmatch(r"[a-z][A-Za-z0-9]*", operation_id), f"{where}: operationId {operation_id!r}"
        assert operation_id not in seen, f"{where} and {seen.get(operation_id)} share {operation_id}"
        seen[operation_id] = where
        tags = operation.get("tags") or []
        assert len(tags) == 1, f"{where}: tags {tags}"
        assert tags[0] in declared, f"{where}: tag {tags[0]} is not declared"
    assert len(seen) > 100


def test_every_json_error_response_references_the_error_schemas(document: dict[str, Any]) -> None:
    resolver = SchemaResolver(document)
    checked = 0
    for where, operation in operations(document):
        for status, raw in (operation.get("responses") or {}).items():
            if not str(status).startswith("4"):
                continue
            response = resolver.pointer(raw["$ref"]) if "$ref" in raw else raw
            for media, content in (response.get("content") or {}).items():
                expected = _VALIDATION_ERROR if str(status) == "422" else _ERROR
                assert content.get("schema") == {"$ref": expected}, f"{where} {status} {media}: {content.get('schema')}"
                checked += 1
    assert checked > 500


def test_no_request_body_requires_a_read_only_member(document: dict[str, Any]) -> None:
    resolver = SchemaResolver(document)
    found: list[str] = []
    bodies = 0
    for where, operation in operations(document):
        if where.startswith("POST ") and "." in where.split(" ", 1)[1]:
            continue  # a webhook's body is what the sandbox sends, a response in all but name
        for media, content in ((operation.get("requestBody") or {}).get("content") or {}).items():
            bodies += 1
            found.extend(f"{where} {media}{at}" for at in required_read_only(resolver.resolve(content["schema"])))
    assert not found, "\n".join(found)
    assert bodies > 30


def test_a_response_schema_requires_the_read_only_members_its_request_schemas_may_leave_out(
    document: dict[str, Any],
) -> None:
    resolver = SchemaResolver(document)
    invoice = resolver.resolve({"$ref": "#/components/schemas/Invoice"})
    create = resolver.resolve({"$ref": "#/components/schemas/InvoiceCreate"})
    assert {"id", "status", "total", "due_amount", "created_at"} <= set(invoice["required"])
    assert set(create["required"]) == {"invoice_date", "customer_id", "items"}
    assert set(create["properties"]) == set(invoice["properties"])  # echoing a read invoice back stays valid


def test_every_sort_value_has_an_enum_name(document: dict[str, Any]) -> None:
    sorts = [p for p in document["components"]["parameters"].values() if p.get("name") == "sort"]
    for parameter in sorts:
        values = parameter["schema"]["enum"]
        names = parameter["schema"]["x-enum-varnames"]
        assert len(names) == len(values) == len(set(names)), parameter
        for value, name in zip(values, names, strict=True):
            field = value.removeprefix("-").upper()
            assert name == (f"{field}_DESC" if value.startswith("-") else f"{field}_ASC"), (value, name)
    assert len(sorts) > 10


def test_no_reference_points_inside_a_component(document: dict[str, Any]) -> None:
    deep = sorted({ref for ref in refs(document) if ref.count("/") > 3})
    assert not deep, deep
