"""A create body whose one property is a field of the record is that field, not the record in a wrapper.

Box makes a shield information barrier from ``{"enterprise": {"id": ..., "type": "enterprise"}}``: read as a
wrapper, the enterprise became the barrier (its ``type`` "enterprise", outside the barrier's enum).
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Barriers, version: "1"}
paths:
  /shield_information_barriers:
    post:
      operationId: createBarrier
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [enterprise]
              properties:
                enterprise: {$ref: "#/components/schemas/EnterpriseBase"}
      responses:
        "201":
          description: The barrier made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Barrier"}
  /shield_information_barriers/{id}:
    get:
      operationId: getBarrier
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: One barrier.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Barrier"}
components:
  schemas:
    EnterpriseBase:
      type: object
      properties:
        id: {type: string}
        type: {type: string, enum: [enterprise]}
    Barrier:
      type: object
      properties:
        id: {type: string, readOnly: true}
        type: {type: string, enum: [shield_information_barrier]}
        enterprise: {$ref: "#/components/schemas/EnterpriseBase"}
        status: {type: string, enum: [draft, enabled]}
"""


def test_a_one_property_body_naming_a_record_field_sets_that_field(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    enterprise = {"id": "1910967", "type": "enterprise"}
    made = json_of(
        client.post("/shield_information_barriers", json={"enterprise": enterprise}, headers=auth(ACME_FULL)), 201
    )
    assert made["enterprise"] == enterprise
    assert made.get("type", "shield_information_barrier") == "shield_information_barrier"
    assert made["id"] != "1910967"
    assert (
        json_of(client.get(f"/shield_information_barriers/{made['id']}", headers=auth(ACME_FULL)))["enterprise"]
        == enterprise
    )
