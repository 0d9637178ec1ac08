"""The completion step: what a record's schema fills when a property is missing, and how nested ids are made."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mockserver.behaviours.completion import Completion
from mockserver.spec import Resource, SpecIndex
from mockserver.state.clock import Clock
from mockserver.store import Store, open_store

CLOCK = Clock(dt.date(2026, 6, 15))

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Boxes", "version": "1"},
    "paths": {
        "/boxes": {
            "get": {
                "operationId": "listBoxes",
                "responses": {
                    "200": {
                        "description": "Boxes.",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Box"}}
                            }
                        },
                    }
                },
            },
            "post": {
                "operationId": "createBox",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Box"}}}},
                "responses": {
                    "201": {
                        "description": "Made.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Box"}}},
                    }
                },
            },
        }
    },
    "components": {
        "schemas": {
            "Box": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer", "readOnly": True},
                    "label": {"type": ["string", "null"]},
                    "size": {"type": ["string", "null"], "enum": ["S", "M"]},
                    "legacy": {"type": "string", "nullable": True},
                    "colour": {"type": "string", "default": "brown"},
                    "code": {"type": "string"},
                    "pin": {"type": ["string", "null"], "writeOnly": True},
                    "opened_at": {"type": "string", "format": "date-time", "readOnly": True},
                    "parts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string", "format": "uuid", "readOnly": True},
                                "note": {"type": ["string", "null"]},
                            },
                        },
                    },
                },
            }
        }
    },
}


@pytest.fixture
def boxes() -> Iterator[tuple[Store, Resource]]:
    index = SpecIndex.build(DOCUMENT)
    store = open_store(index, None)
    try:
        yield store, index.resources["boxes"]
    finally:
        store.close()


def test_a_missing_property_gets_its_default_null_or_the_servers_value_else_stays_out(
    boxes: tuple[Store, Resource],
) -> None:
    store, resource = boxes
    record: dict[str, Any] = {"id": 1}
    with store.tenant(1) as tenant:
        Completion().complete(record, resource, tenant, CLOCK)
    assert record == {
        "id": 1,
        "label": None,
        "legacy": None,  # OpenAPI 3.0's nullable counts too
        "colour": "brown",
        "opened_at": CLOCK.timestamp(),  # readOnly: the server's, always shown
    }  # size: its enum has no null; code: optional, no default; pin: writeOnly


def test_nested_ids_of_the_schemas_kind_are_new_across_records(boxes: tuple[Store, Resource]) -> None:
    store, resource = boxes
    completion = Completion()
    made: list[Any] = []
    for box_id in (1, 2):
        record: dict[str, Any] = {"id": box_id, "parts": [{"note": "a"}, {"note": None}]}
        with store.tenant(1) as tenant:
            completion.complete(record, resource, tenant, CLOCK)
        assert all(next(iter(part)) == "id" for part in record["parts"])  # the id first, as records show theirs
        made.extend(part["id"] for part in record["parts"])
    assert len(set(made)) == 4
    assert all(uuid.UUID(value).version == 4 for value in made)


def test_a_rewrite_keeps_only_the_current_ids_sent_back(boxes: tuple[Store, Resource]) -> None:
    store, resource = boxes
    completion = Completion()
    before: dict[str, Any] = {"id": 1, "parts": [{"note": "a"}]}
    with store.tenant(1) as tenant:
        completion.complete(before, resource, tenant, CLOCK)
        own = before["parts"][0]["id"]
        sent = {"parts": [{"id": "not-one-of-its-own", "note": "x"}, {"id": own, "note": "y"}]}
        after: dict[str, Any] = {"id": 1, "parts": [{"note": "x"}, {"note": "y"}]}
        completion.complete(after, resource, tenant, CLOCK, before=before, sent=sent)
    assert after["parts"][1]["id"] == own
    assert after["parts"][0]["id"] not in {own, "not-one-of-its-own"}


def _config(kind: str, **extra: Any) -> dict[str, Any]:
    properties = {"type": {"type": "string", "enum": [kind]}, "schema": {"type": "object"}, **extra}
    return {"type": "object", "properties": properties, "required": ["type", "schema"]}


EVAL = {
    "type": "object",
    "properties": {
        "data_source_config": {"type": "object", "oneOf": [_config("custom"), _config("stored_completions")]},
        "graders": {
            "type": "array",
            "items": {"anyOf": [_config("label"), _config("score", pass_threshold={"type": "number"})]},
        },
    },
}


def test_a_value_that_names_its_branch_gets_what_that_branch_requires() -> None:
    """OpenAI's evals: a create's ``{"type": "stored_completions"}`` lacked the ``schema`` its branch requires."""
    record: dict[str, Any] = {
        "data_source_config": {"type": "stored_completions", "metadata": {}},
        "graders": [{"type": "score"}, {"type": "label", "schema": {"kept": True}}, {"name": "names no branch"}],
    }
    Completion().fill(record, EVAL, CLOCK)
    assert record["data_source_config"] == {"type": "stored_completions", "metadata": {}, "schema": {}}
    assert record["graders"] == [
        {"type": "score", "schema": {}},
        {"type": "label", "schema": {"kept": True}},
        {"name": "names no branch"},  # no constant names a branch: nothing is guessed
    ]
