"""Paths written with a format suffix (``/Notes.json``, ``/Notes/{Sid}.json``) are a collection and its item.

Twilio writes every path so (Shopify, Zendesk and Redmine too); the sandbox found no resource in Twilio's
API and answered every call with its documented example, remembering nothing.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app
from mockserver.spec.index import shaped_paths

SPEC = """\
openapi: 3.0.3
info: {title: Notes, version: "1"}
paths:
  /Notes.json:
    get:
      operationId: listNotes
      responses:
        "200":
          description: Every note.
          content:
            application/json:
              schema:
                type: object
                properties:
                  notes: {type: array, items: {$ref: "#/components/schemas/Note"}}
    post:
      operationId: createNote
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema: {type: object, properties: {body: {type: string}, FriendlyName: {type: string}}}
      responses:
        "201":
          description: The note made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Note"}
  /Notes/{Sid}.json:
    parameters: [{name: Sid, in: path, required: true, schema: {type: string}}]
    get:
      operationId: fetchNote
      responses:
        "200":
          description: One note.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Note"}
        "404":
          description: No such note.
    delete:
      operationId: deleteNote
      responses:
        "204":
          description: The note is gone.
components:
  schemas:
    Note:
      type: object
      properties:
        sid: {type: string, readOnly: true}
        body: {type: string}
        friendly_name: {type: string}
        type: {type: string, enum: [public, private]}
"""


def test_a_suffixed_collection_and_item_keep_what_a_client_made(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    made = json_of(client.post("/Notes.json", data={"body": "Call back"}, headers=auth(ACME_FULL)), 201)
    assert made["body"] == "Call back"
    assert json_of(client.get(f"/Notes/{made['sid']}.json", headers=auth(ACME_FULL)))["body"] == "Call back"
    listed = json_of(client.get("/Notes.json", headers=auth(ACME_FULL)))["notes"]
    assert made["sid"] in [note["sid"] for note in listed]
    assert client.delete(f"/Notes/{made['sid']}.json", headers=auth(ACME_FULL)).status_code == 204
    assert client.get(f"/Notes/{made['sid']}.json", headers=auth(ACME_FULL)).status_code == 404


def test_a_body_field_naming_a_record_field_in_another_case_sets_it(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()  # Twilio: FriendlyName in, friendly_name out
    made = json_of(client.post("/Notes.json", data={"FriendlyName": "Desk"}, headers=auth(ACME_FULL)), 201)
    assert made["friendly_name"] == "Desk"
    assert "FriendlyName" not in made


def test_a_value_the_record_field_would_refuse_is_not_put_there(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()  # Twilio's update example sends Type: channel
    made = json_of(client.post("/Notes.json", data={"Type": "channel"}, headers=auth(ACME_FULL)), 201)
    assert made.get("type") in {None, "public", "private"}


def test_a_suffix_stays_where_dropping_it_would_make_two_paths_one() -> None:
    real, shaped = shaped_paths({"/a.json": 1, "/a": 2, "/b/{id}.xml": 3, "/.json": 4})
    assert shaped == {"/a.json": 1, "/a": 2, "/b/{id}": 3, "/.json": 4}
    assert real["/b/{id}"] == "/b/{id}.xml"
