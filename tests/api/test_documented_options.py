"""A spec that documents an OPTIONS operation gets it answered; a browser's CORS preflight is still a preflight."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Events, version: "1"}
paths:
  /events:
    get:
      operationId: listEvents
      responses:
        "200":
          description: Every event.
          content:
            application/json:
              schema: {type: array, items: {type: object, properties: {id: {type: string}}}}
    options:
      operationId: eventsOptions
      responses:
        "200":
          description: How to read the event stream.
          content:
            application/json:
              schema:
                type: object
                required: [chunk_size]
                properties:
                  chunk_size: {type: integer}
              example: {chunk_size: 100}
"""


def test_a_documented_options_operation_answers_what_it_documents(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    answer = client.options("/events", headers=auth(ACME_FULL))
    assert answer.mimetype == "application/json"
    assert json_of(answer) == {"chunk_size": 100}


def test_a_cors_preflight_on_that_path_is_still_answered_as_one(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    preflight = client.options(
        "/events", headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert [m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")] == ["GET", "OPTIONS"]
