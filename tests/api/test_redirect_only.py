"""An operation that documents only a redirect answers it, not an invented 200.

Twilio's recording add-on payload data (``GET .../Payloads/{PayloadSid}/Data.json``) documents a 307 and
nothing else; the sandbox answered 200, a status the spec never names for it.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Payloads, version: "1"}
paths:
  /payloads/{sid}/data:
    get:
      operationId: fetchPayloadData
      parameters: [{name: sid, in: path, required: true, schema: {type: string}}]
      responses:
        "307":
          description: Temporary Redirect
          headers:
            Location: {schema: {type: string, format: uri}, example: "https://media.example.com/payload.json"}
          content:
            application/json:
              schema: {type: object, properties: {redirect_to: {type: string, format: uri}}}
              example: {redirect_to: "https://media.example.com/payload.json"}
  /payloads/{sid}/moved:
    get:
      operationId: fetchMovedPayload
      parameters: [{name: sid, in: path, required: true, schema: {type: string}}]
      responses:
        "302": {description: Found elsewhere}
        default: {description: An error}
"""


def test_an_operation_documenting_only_a_redirect_answers_it(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    response = client.get("/payloads/PL123/data", headers=auth(ACME_FULL))
    assert response.status_code == 307
    assert json_of(response, 307) == {"redirect_to": "https://media.example.com/payload.json"}
    assert response.headers["Location"] == "https://media.example.com/payload.json"


def test_a_redirect_is_preferred_to_a_default_response(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    response = client.get("/payloads/PL123/moved", headers=auth(ACME_FULL))
    assert response.status_code == 302
    assert response.data == b""
