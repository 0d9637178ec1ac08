"""A reference the sandbox fills itself (a required field the client need not send) is not checked as the client's.

OpenAI's fine-tuning permissions require ``project_id`` in the record but not in the create body: the
sandbox filled ``""`` and then refused its own value, so every create was a 422.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import expect_error, json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Permissions, version: "1"}
paths:
  /projects:
    get:
      operationId: listProjects
      responses:
        "200":
          description: Every project.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Project"}}
  /projects/{id}:
    get:
      operationId: getProject
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: One project.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Project"}
  /permissions:
    post:
      operationId: createPermission
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {project_id: {type: string}, role: {type: string}}}
      responses:
        "200":
          description: The permission made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Permission"}
        "422":
          description: The body breaks a rule.
  /permissions/{id}:
    get:
      operationId: getPermission
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: One permission.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Permission"}
components:
  schemas:
    Project:
      type: object
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
    Permission:
      type: object
      required: [id, project_id, role]
      properties:
        id: {type: string, readOnly: true}
        project_id: {type: string}
        role: {type: string}
"""


def test_a_required_reference_the_client_left_out_does_not_refuse_the_create(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    made = json_of(client.post("/permissions", json={"role": "reader"}, headers=auth(ACME_FULL)))
    assert made["role"] == "reader"


def test_a_reference_the_client_sent_is_still_checked_even_when_empty(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    for sent in ("", "proj_missing"):
        refused = client.post("/permissions", json={"project_id": sent, "role": "reader"}, headers=auth(ACME_FULL))
        assert "project_id" in expect_error(refused, 422, "validation_failed")["errors"]
