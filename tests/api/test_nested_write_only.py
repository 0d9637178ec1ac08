"""A writeOnly field nested in a record (an object's, an array item's) is never answered back.

Box's sign requests keep ``signers[].password``: it was returned by every create, read and list.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Signatures, version: "1"}
paths:
  /sign_requests:
    get:
      operationId: listSignRequests
      responses:
        "200":
          description: Every sign request.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/SignRequest"}}
    post:
      operationId: createSignRequest
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/SignRequest"}
      responses:
        "201":
          description: The sign request made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/SignRequest"}
  /sign_requests/{id}:
    get:
      operationId: getSignRequest
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: One sign request.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/SignRequest"}
components:
  schemas:
    Signer:
      type: object
      properties:
        email: {type: string}
        password: {type: string, writeOnly: true}
    SignRequest:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
        signers: {type: array, items: {$ref: "#/components/schemas/Signer"}}
        owner: {$ref: "#/components/schemas/Signer"}
"""
SECRET = "correct horse battery staple"


def test_a_nested_write_only_field_is_left_out_of_every_answer(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    sent = {
        "name": "Lease",
        "signers": [{"email": "a@example.com", "password": SECRET}, {"email": "b@example.com"}],
        "owner": {"email": "o@example.com", "password": SECRET},
    }
    made = json_of(client.post("/sign_requests", json=sent, headers=auth(ACME_FULL)), 201)
    read = json_of(client.get(f"/sign_requests/{made['id']}", headers=auth(ACME_FULL)))
    listed = json_of(client.get("/sign_requests", headers=auth(ACME_FULL)))
    for answer in (made, read, next(r for r in listed if r["id"] == made["id"])):
        assert answer["signers"] == [{"email": "a@example.com"}, {"email": "b@example.com"}]
        assert answer["owner"] == {"email": "o@example.com"}
    assert SECRET not in client.get("/sign_requests", headers=auth(ACME_FULL)).get_data(as_text=True)
