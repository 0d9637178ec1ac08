"""A reused Idempotency-Key is refused with a status the operation documents (400 where it lists no 422)."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import spec_app

SPEC = """\
openapi: 3.0.3
info: {title: Transfers, version: "1"}
paths:
  /transfers:
    put:
      operationId: createTransfers
      parameters:
        - {name: Idempotency-Key, in: header, schema: {type: string}, example: KEY_VALUE}
      requestBody:
        content: {application/json: {schema: {$ref: "#/components/schemas/Transfer"}}}
      responses:
        "200":
          description: Created.
          content: {application/json: {schema: {$ref: "#/components/schemas/Transfer"}}}
        "400": {description: A validation error.}
components:
  schemas:
    Transfer:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        amount: {type: integer}
"""


def test_a_key_reused_with_another_body_is_400_where_the_operation_documents_no_422(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, seed=1, quiet=True).test_client()
    headers = {**auth(ACME_FULL), "Idempotency-Key": "KEY_VALUE"}
    first = client.put("/transfers", json={"amount": 5}, headers=headers)
    assert first.status_code == 200, first.get_json()
    replayed = client.put("/transfers", json={"amount": 5}, headers=headers)
    assert (replayed.status_code, replayed.headers.get("Idempotent-Replayed")) == (200, "true")
    reused = client.put("/transfers", json={"amount": 6}, headers=headers)
    assert reused.status_code == 400, reused.get_json()
    assert reused.get_json()["message"] == "Idempotency-Key reused with a different request."
