"""A pagination parameter named ``offset`` whose schema is text is an opaque cursor, not a number.

Asana's lists page by ``offset``, a token (``type: string``): every request that sent one was refused
400 "must be a whole number".
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import expect_error, json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Tasks, version: "1"}
paths:
  /tasks:
    get:
      operationId: listTasks
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
        - {name: offset, in: query, schema: {type: string}}
      responses:
        "200":
          description: A page of tasks.
          content:
            application/json:
              schema:
                type: object
                properties:
                  data: {type: array, items: {$ref: "#/components/schemas/Task"}}
                  next_offset: {type: [string, "null"]}
        "400":
          description: A parameter is invalid.
    post:
      operationId: createTask
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}}}
      responses:
        "201":
          description: The task made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Task"}
  /tasks/{gid}:
    get:
      operationId: getTask
      parameters: [{name: gid, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: One task.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Task"}
components:
  schemas:
    Task:
      type: object
      properties:
        gid: {type: string, readOnly: true}
        name: {type: string}
"""


def test_a_text_offset_pages_by_the_tokens_the_list_gives(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    first = json_of(client.get("/tasks?limit=1", headers=auth(ACME_FULL)))
    assert first["next_offset"]
    second = json_of(client.get(f"/tasks?limit=1&offset={first['next_offset']}", headers=auth(ACME_FULL)))
    assert second["data"][0]["gid"] != first["data"][0]["gid"]


def test_a_token_the_list_never_gave_is_refused_as_such(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    refused = expect_error(client.get("/tasks?offset=eyJ0eXAiOJiKV1iQ", headers=auth(ACME_FULL)), 400, "bad_request")
    assert "not a cursor" in refused["message"]
