"""The server's own timestamps (created_at, updated_at) take the type their schema gives them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Conversations, version: "1"}
paths:
  /conversations:
    get:
      operationId: listConversations
      responses:
        "200":
          description: Every conversation.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Conversation"}}
    post:
      operationId: createConversation
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {topic: {type: string}}}
      responses:
        "200":
          description: The conversation made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Conversation"}
  /conversations/{id}:
    get:
      operationId: getConversation
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: One conversation.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Conversation"}
components:
  schemas:
    Conversation:
      type: object
      required: [id, created_at]
      properties:
        id: {type: string, readOnly: true}
        topic: {type: string}
        created_at: {type: integer, format: unixtime, readOnly: true}
        updated_at:
          anyOf: [{type: integer, format: unixtime}, {type: "null"}]
          readOnly: true
"""
TODAY = dt.date(2026, 3, 2)
MIDNIGHT = 1772409600  # 2026-03-02T00:00:00Z


def test_a_created_record_is_stamped_in_unix_seconds_where_the_schema_says_integer(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, today=TODAY, strict=True).test_client()
    made = json_of(client.post("/conversations", json={"topic": "billing"}, headers=auth(ACME_FULL)))
    assert isinstance(made["created_at"], int)
    assert made["created_at"] >= MIDNIGHT
    assert made["updated_at"] == made["created_at"]
    again = json_of(client.get(f"/conversations/{made['id']}", headers=auth(ACME_FULL)))
    assert again["created_at"] == made["created_at"]


def test_seeded_records_are_stamped_the_same_way(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, today=TODAY, strict=True).test_client()
    seeded = json_of(client.get("/conversations", headers=auth(ACME_FULL)))
    assert seeded
    for conversation in seeded:
        assert isinstance(conversation["created_at"], int), conversation
        assert isinstance(conversation["updated_at"], int), conversation
