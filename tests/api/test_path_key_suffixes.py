"""Path keys that carry a query or a ``#fragment``: OpenAI's ``/responses?beta=true``, Box's ``/files/{id}#add``.

Before, such an operation's route held the literal ``?beta=true`` and no request could reach it: the plain
path's operation answered, and refused ``beta`` as an unknown query parameter.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Status, version: "1"}
paths:
  /status:
    get:
      operationId: getStatus
      responses:
        "200":
          description: The stable edition.
          content: {application/json: {schema: {$ref: "#/components/schemas/Status"}, example: {edition: stable}}}
  /status?beta=true:
    get:
      operationId: getStatusBeta
      parameters: [{name: verbose, in: query, schema: {type: boolean}}]
      responses:
        "200":
          description: The beta edition.
          content: {application/json: {schema: {$ref: "#/components/schemas/Status"}, example: {edition: beta}}}
  /status#reset:
    post:
      operationId: resetStatus
      responses:
        "200":
          description: Reset.
          content: {application/json: {schema: {$ref: "#/components/schemas/Status"}, example: {edition: reset}}}
components:
  schemas:
    Status: {type: object, properties: {edition: {type: string}}}
"""


def test_a_path_keys_query_selects_its_operation(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    assert json_of(client.get("/status", headers=auth(ACME_FULL))) == {"edition": "stable"}
    assert json_of(client.get("/status?beta=true", headers=auth(ACME_FULL))) == {"edition": "beta"}
    assert json_of(client.get("/status?beta=true&verbose=true", headers=auth(ACME_FULL))) == {"edition": "beta"}
    assert json_of(client.get("/status?beta=false", headers=auth(ACME_FULL))) == {"edition": "stable"}


def test_a_path_keys_fragment_is_no_part_of_its_route(tmp_path: Path) -> None:
    """No client sends a fragment: the operation is reached by its path and method."""
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    assert json_of(client.post("/status", headers=auth(ACME_FULL))) == {"edition": "reset"}
