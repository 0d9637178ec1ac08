"""Every example in openapi.yaml validates against its schema, as the sandbox itself would check it.

Request body examples are checked against the request view (readOnly members never required), response and
webhook payload examples against the response view (writeOnly members forbidden), parameter, header and schema
examples against their schema as written; formats are checked (jsonschema-rs, as the sandbox validates).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import SPEC

from mockserver.spec import load_spec
from mockserver.spec.resolve import SchemaResolver, request_view, response_view
from mockserver.validation import compile_schema

View = Callable[[Any], Any]
Example = tuple[str, Any, Any, View]  # where (a JSON pointer), schema, example value, view applied to the schema
_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


def _plain(schema: Any) -> Any:
    return schema


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _media_examples(where: str, content: Any, view: View) -> Iterator[Example]:
    """The ``example`` and each ``examples.*.value`` of every media type of a content map."""
    for media, item in (content or {}).items():
        at = f"{where}/content/{_escape(media)}"
        schema = item.get("schema")
        if schema is None:
            continue
        if "example" in item:
            yield f"{at}/example", schema, item["example"], view
        for name, example in (item.get("examples") or {}).items():
            if isinstance(example, dict) and "value" in example:
                yield f"{at}/examples/{_escape(name)}/value", schema, example["value"], view


def _value_examples(where: str, item: Any) -> Iterator[Example]:
    """The examples of a parameter or header object (against its schema as written)."""
    if not isinstance(item, dict) or "$ref" in item or "schema" not in item:
        return
    if "example" in item:
        yield f"{where}/example", item["schema"], item["example"], _plain
    for name, example in (item.get("examples") or {}).items():
        if isinstance(example, dict) and "value" in example:
            yield f"{where}/examples/{_escape(name)}/value", item["schema"], example["value"], _plain


def _response_examples(where: str, response: Any) -> Iterator[Example]:
    if not isinstance(response, dict) or "$ref" in response:
        return
    yield from _media_examples(where, response.get("content"), response_view)
    for name, header in (response.get("headers") or {}).items():
        yield from _value_examples(f"{where}/headers/{_escape(name)}", header)


def _operation_examples(where: str, item: dict[str, Any], body_view: View) -> Iterator[Example]:
    for index, parameter in enumerate(item.get("parameters") or ()):
        yield from _value_examples(f"{where}/parameters/{index}", parameter)
    for method in _METHODS:
        operation = item.get(method)
        if not isinstance(operation, dict):
            continue
        at = f"{where}/{method}"
        for index, parameter in enumerate(operation.get("parameters") or ()):
            yield from _value_examples(f"{at}/parameters/{index}", parameter)
        body = operation.get("requestBody") or {}
        yield from _media_examples(f"{at}/requestBody", body.get("content"), body_view)
        for status, response in (operation.get("responses") or {}).items():
            yield from _response_examples(f"{at}/responses/{status}", response)


def _schema_examples(where: str, node: Any) -> Iterator[Example]:
    """Every ``examples``/``example`` of a schema and of every schema nested in it."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _schema_examples(f"{where}/{index}", item)
        return
    if not isinstance(node, dict):
        return
    for index, example in enumerate(node.get("examples") or ()) if isinstance(node.get("examples"), list) else ():
        yield f"{where}/examples/{index}", node, example, _plain
    if "example" in node:
        yield f"{where}/example", node, node["example"], _plain
    for key, value in node.items():
        if key in ("examples", "example", "default", "enum", "const") or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties", "$defs"):
            for name, sub in (value or {}).items():
                yield from _schema_examples(f"{where}/{key}/{_escape(name)}", sub)
        else:
            yield from _schema_examples(f"{where}/{key}", value)


def spec_examples(document: dict[str, Any]) -> list[Example]:
    """Every example of a spec document, each with its schema and the view it is checked in."""
    found: list[Example] = []
    for path, item in (document.get("paths") or {}).items():
        found.extend(_operation_examples(f"#/paths/{_escape(path)}", item, request_view))
    for name, item in (document.get("webhooks") or {}).items():  # payloads the sandbox sends: its output
        found.extend(_operation_examples(f"#/webhooks/{_escape(name)}", item, response_view))
    components = document.get("components") or {}
    for name, response in (components.get("responses") or {}).items():
        found.extend(_response_examples(f"#/components/responses/{_escape(name)}", response))
    for kind in ("parameters", "headers"):
        for name, item in (components.get(kind) or {}).items():
            found.extend(_value_examples(f"#/components/{kind}/{_escape(name)}", item))
    for name, schema in (components.get("schemas") or {}).items():
        found.extend(_schema_examples(f"#/components/schemas/{_escape(name)}", schema))
    return found


def invalid_examples(document: dict[str, Any]) -> list[str]:
    """One line per example that its schema rejects: where it is and why."""
    resolver = SchemaResolver(document)
    problems: list[str] = []
    for where, schema, value, view in spec_examples(document):
        validator = compile_schema(view(resolver.resolve(schema)))
        problems.extend(
            f"{where}: {error.message} (at /{'/'.join(map(str, error.instance_path))})"
            for error in validator.iter_errors(value)
        )
    return problems


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_spec(SPEC)


def test_every_example_in_the_spec_validates_against_its_schema(document: dict[str, Any]) -> None:
    problems = invalid_examples(document)
    assert not problems, "\n".join(problems)


def test_the_examples_checked_include_bodies_responses_parameters_headers_and_schemas(
    document: dict[str, Any],
) -> None:
    places = [where for where, *_ in spec_examples(document)]
    assert "#/paths/~1invoices/post/requestBody/content/application~1json/examples/create/value" in places
    assert "#/paths/~1invoices~1{id}/get/responses/200/content/application~1json/example" in places
    assert "#/components/responses/ValidationFailed/content/application~1json/examples/fields/value" in places
    assert "#/components/parameters/InvoiceSort/example" in places
    assert "#/components/headers/XRequestId/example" in places
    assert "#/components/schemas/LineItem/properties/total/examples/0" in places
    assert len(places) > 400


def test_an_example_that_breaks_its_schema_is_reported_where_it_is(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    create = broken["paths"]["/invoices"]["post"]["requestBody"]["content"]["application/json"]["examples"]["create"]
    create["value"]["items"][0]["quantity"] = -1  # quantity is exclusiveMinimum 0
    del create["value"]["customer_id"]  # required on create
    broken["paths"]["/invoices/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["example"]["data"][
        "due_date"
    ] = "1 March"  # not a date

    problems = invalid_examples(broken)

    body = "#/paths/~1invoices/post/requestBody/content/application~1json/examples/create/value"
    assert any(line.startswith(body) and "/items/0/quantity" in line for line in problems), problems
    assert any(line.startswith(body) and "customer_id" in line for line in problems), problems
    read = "#/paths/~1invoices~1{id}/get/responses/200/content/application~1json/example"
    assert any(line.startswith(read) and "/data/due_date" in line for line in problems), problems
    assert len(problems) == 3, problems


def test_a_read_only_member_is_not_required_of_a_request_example_but_is_of_a_response_one(
    document: dict[str, Any],
) -> None:
    broken = copy.deepcopy(document)
    created = broken["paths"]["/invoices"]["post"]["responses"]["201"]["content"]["application/json"]["example"]
    del created["data"]["total"]  # readOnly, and always in a response

    problems = invalid_examples(broken)

    assert len(problems) == 1, problems
    assert "total" in problems[0]
    assert problems[0].startswith("#/paths/~1invoices/post/responses/201/")
