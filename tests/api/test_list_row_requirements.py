"""A field the record leaves optional but its list's rows require is held by every record.

OpenAI's certificates: the record (``Certificate``) has an optional ``active``; the list's rows
(``OrganizationCertificate``) require it. Lists go out as stored, so a certificate uploaded without it
broke its list's schema.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Certificates, version: "1"}
paths:
  /certificates:
    get:
      operationId: listCertificates
      responses:
        "200":
          description: The certificates.
          content:
            application/json:
              schema:
                type: object
                required: [object, data]
                properties:
                  object: {type: string, enum: [list]}
                  data: {type: array, items: {$ref: "#/components/schemas/Listed"}}
    post:
      operationId: uploadCertificate
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [name], properties: {name: {type: string}}}
      responses:
        "200":
          description: The certificate uploaded.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Certificate"}
  /certificates/{certificate_id}:
    get:
      operationId: getCertificate
      parameters: [{name: certificate_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: The certificate.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Certificate"}
components:
  schemas:
    Certificate:
      type: object
      required: [id, name]
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
        active: {type: boolean}
        note: {type: string}
    Listed:
      type: object
      required: [id, name, active]
      properties:
        id: {type: string}
        name: {type: string}
        active: {type: boolean}
"""


def test_a_field_the_lists_rows_require_is_held_by_every_record(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    made = json_of(client.post("/certificates", json={"name": "Root CA"}, headers=auth(ACME_FULL)))
    assert made["active"] is False
    assert "note" not in made  # optional everywhere: left out, as before
    listed = json_of(client.get("/certificates", headers=auth(ACME_FULL)))
    assert {"id": made["id"], "name": "Root CA", "active": False} in listed["data"]
    assert all("active" in row for row in listed["data"])  # the seeded ones too
