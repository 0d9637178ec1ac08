"""A property written as an allOf around one scalar or array schema (Box's idiom) is faked and checked as that schema.

Box wraps enums and arrays so to add a description: the fake data ignored the allOf and made words
(``"event_type": "Office"``, outside its 201-value enum; ``"tags": "Marketing"`` for an array).
"""

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
              schema: {type: array, items: {$ref: "#/components/schemas/Event"}}
    post:
      operationId: createEvent
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Event"}
      responses:
        "201":
          description: The event made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Event"}
  /events/{id}:
    get:
      operationId: getEvent
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: One event.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Event"}
components:
  schemas:
    EventType:
      type: string
      enum: [ITEM_CREATE, ITEM_UPLOAD, COMMENT_CREATE]
    Event:
      type: object
      required: [id, event_type, tags]
      properties:
        id: {type: integer, readOnly: true}
        event_type:
          allOf: [{$ref: "#/components/schemas/EventType"}, {description: What happened.}]
        tags:
          allOf: [{type: array, items: {type: string}, maxItems: 3}, {description: The event's tags.}]
        additional_details:
          type: object
          additionalProperties:
            allOf: [{}, {example: Aaron Levie}, {description: Any value.}]
"""


def test_seeded_records_meet_an_allof_around_an_enum_or_an_array(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()  # strict: a record that breaks its schema is a 500
    events = json_of(client.get("/events", headers=auth(ACME_FULL)))
    assert events
    for event in events:
        assert event["event_type"] in {"ITEM_CREATE", "ITEM_UPLOAD", "COMMENT_CREATE"}
        assert isinstance(event["tags"], list)
