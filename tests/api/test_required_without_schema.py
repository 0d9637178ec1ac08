"""A required property the schema names without describing it is still given a value.

Box's ``shared_link`` requires ``accessed`` (and a few more) that its ``properties`` never list: valid JSON
Schema (any value does), yet the sandbox left them out and its answers broke the schema.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Folders, version: "1"}
paths:
  /folders:
    post:
      operationId: createFolder
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                name: {type: string}
                shared_link: {type: object, properties: {access: {type: string}}}
      responses:
        "201":
          description: The folder made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Folder"}
  /folders/{id}:
    get:
      operationId: getFolder
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: One folder.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Folder"}
  /folders/{id}/lock:
    get:
      operationId: getFolderLock
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: The folder's lock, made up by the sandbox (no rule describes it).
          content:
            application/json:
              schema:
                type: object
                required: [locked_by, reason]
                properties:
                  reason: {type: string}
components:
  schemas:
    Folder:
      type: object
      required: [id, name, etag]
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
        shared_link:
          type: object
          required: [access, accessed]
          properties:
            access: {type: string, enum: [open, company]}
"""


def test_required_names_without_a_schema_are_filled_at_every_level(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()  # strict: a missing required field is a 500
    body = {"name": "Plans", "shared_link": {"access": "open"}}
    made = json_of(client.post("/folders", json=body, headers=auth(ACME_FULL)), 201)
    assert "etag" in made
    assert made["shared_link"]["access"] == "open"
    assert "accessed" in made["shared_link"]


def test_a_made_up_answer_fills_them_too(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    made = json_of(client.post("/folders", json={"name": "Plans"}, headers=auth(ACME_FULL)), 201)
    lock = json_of(client.get(f"/folders/{made['id']}/lock", headers=auth(ACME_FULL)))
    assert {"locked_by", "reason"} <= set(lock)
