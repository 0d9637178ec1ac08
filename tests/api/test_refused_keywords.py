"""A spec served with --lenient whose schemas break their JSON Schema dialect: the refused keywords are left out.

Real specs do (the OpenAI spec's ``$recursiveAnchor: true`` and ``exclusiveMinimum: true`` in a 3.1
document); jsonschema-rs then refused the whole schema and the sandbox never started.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import ACME_FULL, auth

from api.support import expect_error, json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Notes, version: "1"}
paths:
  /notes:
    post:
      operationId: createNote
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Note"}
      responses:
        "201":
          description: The note made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Note"}
  /notes/{id}:
    get:
      operationId: getNote
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: One note.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Note"}
components:
  schemas:
    Note:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        title: {type: string, maxLength: 10}
        code: {type: string, pattern: "[a-"}
        tree: {$recursiveAnchor: true, type: object}
        weight: {type: number, minimum: 0, exclusiveMinimum: true}
"""


def test_a_schema_that_breaks_its_dialect_is_served_without_the_refused_keywords(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, lenient=True).test_client()
    note = {"title": "Groceries", "code": "[[", "tree": {}, "weight": 0}
    made = json_of(client.post("/notes", json=note, headers=auth(ACME_FULL)), 201)
    assert (made["title"], made["code"], made["weight"]) == ("Groceries", "[[", 0)
    assert json_of(client.get(f"/notes/{made['id']}", headers=auth(ACME_FULL)))["title"] == "Groceries"


def test_the_rest_of_such_a_schema_is_still_checked(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, lenient=True).test_client()
    refused = expect_error(
        client.post("/notes", json={"title": "A title far too long", "tree": "not an object"}, headers=auth(ACME_FULL)),
        422,
        "validation_failed",
    )
    assert set(refused["errors"]) == {"title", "tree"}


def test_the_keywords_left_out_are_named_once_at_start_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mockserver"):
        spec_app(tmp_path, SPEC, lenient=True)
    said = [record.getMessage() for record in caplog.records if "not checked" in record.getMessage()]
    assert len(said) == 1, said
    for keyword in ("$recursiveAnchor", "pattern", "exclusiveMinimum"):
        assert keyword in said[0]
