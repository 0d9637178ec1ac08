"""A request field the record's schema forbids (``additionalProperties: false``) is not kept, so never served."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Apps, version: "1"}
paths:
  /apps:
    post:
      operationId: uploadApp
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                name: {type: string}
                status: {type: string}
                settings: {type: object, properties: {theme: {type: string}, debug: {type: boolean}}}
      responses:
        "200": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/App"}}}}
  /apps/{id}:
    get:
      operationId: getApp
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: One., content: {application/json: {schema: {$ref: "#/components/schemas/App"}}}}
components:
  schemas:
    App:
      type: object
      additionalProperties: false
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
        settings:
          type: object
          additionalProperties: false
          properties: {theme: {type: string}}
"""


def test_fields_the_response_schema_forbids_are_left_out_at_any_depth(tmp_path: Path) -> None:
    """Adyen's androidApps took ``status`` in the request and echoed it where the App schema forbids it."""
    client = spec_app(tmp_path, SPEC).test_client()
    sent = {"name": "Till", "status": "live", "settings": {"theme": "dark", "debug": True}}
    made = json_of(client.post("/apps", json=sent, headers=auth(ACME_FULL)))
    assert made == {"id": made["id"], "name": "Till", "settings": {"theme": "dark"}}
    assert json_of(client.get(f"/apps/{made['id']}", headers=auth(ACME_FULL))) == made
