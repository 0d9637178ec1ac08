"""Child collections (``/parents/{pid}/children``) are scoped to their parent; a list body writes every record."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Nesting, version: "1"}
paths:
  /plans:
    get:
      operationId: listPlans
      responses:
        "200": {description: Plans., content: {application/json: {schema: {$ref: "#/components/schemas/Plans"}}}}
    post:
      operationId: createPlan
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Plan"}}}}
      responses:
        "201": {description: A plan., content: {application/json: {schema: {$ref: "#/components/schemas/Plan"}}}}
  /plans/{plan_id}:
    parameters: [{name: plan_id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getPlan
      responses:
        "200": {description: A plan., content: {application/json: {schema: {$ref: "#/components/schemas/Plan"}}}}
        "404": {$ref: "#/components/responses/Error"}
  /plans/{plan_id}/add_ons:
    parameters: [{name: plan_id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: listAddOns
      responses:
        "200": {description: Add-ons., content: {application/json: {schema: {$ref: "#/components/schemas/AddOns"}}}}
        "404": {$ref: "#/components/responses/Error"}
    post:
      operationId: createAddOn
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/AddOn"}}}}
      responses:
        "201": {description: An add-on., content: {application/json: {schema: {$ref: "#/components/schemas/AddOn"}}}}
        "404": {$ref: "#/components/responses/Error"}
  /plans/{plan_id}/add_ons/{add_on_id}:
    parameters:
      - {name: plan_id, in: path, required: true, schema: {type: string}}
      - {name: add_on_id, in: path, required: true, schema: {type: string}}
    get:
      operationId: getAddOn
      responses:
        "200": {description: An add-on., content: {application/json: {schema: {$ref: "#/components/schemas/AddOn"}}}}
        "404": {$ref: "#/components/responses/Error"}
    patch:
      operationId: updateAddOn
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/AddOn"}}}}
      responses:
        "200": {description: An add-on., content: {application/json: {schema: {$ref: "#/components/schemas/AddOn"}}}}
        "404": {$ref: "#/components/responses/Error"}
    delete:
      operationId: deleteAddOn
      responses:
        "204": {description: Gone.}
        "404": {$ref: "#/components/responses/Error"}
  /plans/{plan_id}/add_ons/{add_on_id}/notes:
    parameters:
      - {name: plan_id, in: path, required: true, schema: {type: string}}
      - {name: add_on_id, in: path, required: true, schema: {type: string}}
    get:
      operationId: listNotes
      responses:
        "200": {description: Notes., content: {application/json: {schema: {$ref: "#/components/schemas/Notes"}}}}
        "404": {$ref: "#/components/responses/Error"}
    post:
      operationId: createNote
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Note"}}}}
      responses:
        "201": {description: A note., content: {application/json: {schema: {$ref: "#/components/schemas/Note"}}}}
        "404": {$ref: "#/components/responses/Error"}
  /plans/{plan_id}/add_ons/{add_on_id}/notes/{note_id}:
    parameters:
      - {name: plan_id, in: path, required: true, schema: {type: string}}
      - {name: add_on_id, in: path, required: true, schema: {type: string}}
      - {name: note_id, in: path, required: true, schema: {type: integer}}
    get:
      operationId: getNote
      responses:
        "200": {description: A note., content: {application/json: {schema: {$ref: "#/components/schemas/Note"}}}}
        "404": {$ref: "#/components/responses/Error"}
  /webhooks/{note_id}:
    parameters: [{name: note_id, in: path, required: true, schema: {type: integer}}]
    get:
      operationId: getNoteAtTop
      x-sandbox-resource: notes
      responses:
        "200": {description: A note., content: {application/json: {schema: {$ref: "#/components/schemas/Note"}}}}
        "404": {$ref: "#/components/responses/Error"}
  /Items:
    put:
      operationId: createItems
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Items"}}}}
      responses:
        "200": {description: Items., content: {application/json: {schema: {$ref: "#/components/schemas/Items"}}}}
        "422": {$ref: "#/components/responses/Error"}
    post:
      operationId: updateOrCreateItems
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Items"}}}}
      responses:
        "200": {description: Items., content: {application/json: {schema: {$ref: "#/components/schemas/Items"}}}}
    get:
      operationId: getItems
      responses:
        "200": {description: Items., content: {application/json: {schema: {$ref: "#/components/schemas/Items"}}}}
  /Items/{ItemID}:
    parameters: [{name: ItemID, in: path, required: true, schema: {type: string, format: uuid}}]
    get:
      operationId: getItem
      responses:
        "200": {description: Items., content: {application/json: {schema: {$ref: "#/components/schemas/Items"}}}}
components:
  responses:
    Error:
      description: An error.
      content:
        application/json:
          schema:
            type: object
            required: [error]
            properties: {error: {type: object, properties: {code: {type: string}, message: {type: string}}}}
  schemas:
    Plan:
      type: object
      additionalProperties: false
      required: [code]
      properties:
        id: {type: string, readOnly: true}
        code: {type: string}
    Plans:
      type: object
      properties: {data: {type: array, items: {$ref: "#/components/schemas/Plan"}}}
    AddOn:
      type: object
      additionalProperties: false
      required: [name]
      properties:
        id: {type: string, readOnly: true}
        plan_id: {type: string, readOnly: true}
        name: {type: string}
    AddOns:
      type: object
      properties: {data: {type: array, items: {$ref: "#/components/schemas/AddOn"}}}
    Note:
      type: object
      additionalProperties: false
      required: [text]
      properties:
        id: {type: integer, readOnly: true}
        text: {type: string}
    Notes:
      type: object
      properties: {data: {type: array, items: {$ref: "#/components/schemas/Note"}}}
    Item:
      type: object
      additionalProperties: false
      properties:
        ItemID: {type: string, format: uuid}
        Code: {type: string}
    Items:
      type: object
      properties: {Items: {type: array, items: {$ref: "#/components/schemas/Item"}}}
"""


@pytest.fixture(scope="module")
def nesting_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return spec_app(
        tmp_path_factory.mktemp("nesting"), SPEC, strict=True, seed=3, today=dt.date(2026, 6, 15), quiet=True
    )


@pytest.fixture
def client(nesting_app: Flask) -> FlaskClient:
    nesting_app.extensions["sandbox"]["engine"].reset()
    return nesting_app.test_client()


def new_plan(client: FlaskClient, code: str) -> str:
    """Create a plan and return its id."""
    plan_id: str = json_of(client.post("/plans", json={"code": code}), 201)["id"]
    return plan_id


def test_a_child_is_stamped_with_its_parent_and_listed_only_under_it(client: FlaskClient) -> None:
    gold, silver = new_plan(client, "gold"), new_plan(client, "silver")
    made = json_of(client.post(f"/plans/{gold}/add_ons", json={"name": "Support"}), 201)
    assert made["plan_id"] == gold
    under_gold = [row["id"] for row in json_of(client.get(f"/plans/{gold}/add_ons"))["data"]]
    under_silver = [row["id"] for row in json_of(client.get(f"/plans/{silver}/add_ons"))["data"]]
    assert made["id"] in under_gold
    assert made["id"] not in under_silver
    assert all(row["plan_id"] == silver for row in json_of(client.get(f"/plans/{silver}/add_ons"))["data"])


def test_a_child_under_the_wrong_parent_is_404_for_read_update_and_delete(client: FlaskClient) -> None:
    gold, silver = new_plan(client, "gold"), new_plan(client, "silver")
    made = json_of(client.post(f"/plans/{gold}/add_ons", json={"name": "Support"}), 201)
    wrong = f"/plans/{silver}/add_ons/{made['id']}"
    error = json_of(client.get(wrong), 404)["error"]
    assert f"under plan {silver}" in error["message"]
    json_of(client.patch(wrong, json={"name": "Moved"}), 404)
    json_of(client.delete(wrong), 404)
    right = f"/plans/{gold}/add_ons/{made['id']}"
    assert json_of(client.patch(right, json={"name": "Premium"}))["plan_id"] == gold
    assert json_of(client.get(right))["name"] == "Premium"
    assert client.delete(right).status_code == 204


def test_a_parent_that_does_not_exist_is_404_with_a_message_a_person_can_act_on(client: FlaskClient) -> None:
    for response in (client.get("/plans/nope/add_ons"), client.post("/plans/nope/add_ons", json={"name": "X"})):
        message = json_of(response, 404)["error"]["message"]
        assert "No plan with id nope exists" in message
        assert "existing plan" in message


def test_a_child_without_a_field_for_its_parent_keeps_it_hidden_and_several_levels_scope_by_the_innermost(
    client: FlaskClient,
) -> None:
    gold, silver = new_plan(client, "gold"), new_plan(client, "silver")
    support = json_of(client.post(f"/plans/{gold}/add_ons", json={"name": "Support"}), 201)["id"]
    setup = json_of(client.post(f"/plans/{gold}/add_ons", json={"name": "Setup"}), 201)["id"]
    note = json_of(client.post(f"/plans/{gold}/add_ons/{support}/notes", json={"text": "hi"}), 201)
    assert set(note) == {"id", "text"}  # the parent is kept, never shown (strict mode checks the schema too)
    listed = json_of(client.get(f"/plans/{gold}/add_ons/{support}/notes"))["data"]
    assert [row["id"] for row in listed] == [note["id"]]
    assert set(listed[0]) == {"id", "text"}
    assert json_of(client.get(f"/plans/{gold}/add_ons/{setup}/notes"))["data"] == []
    json_of(client.get(f"/plans/{gold}/add_ons/{setup}/notes/{note['id']}"), 404)
    assert json_of(client.get(f"/plans/{gold}/add_ons/{support}/notes/{note['id']}"))["text"] == "hi"
    outer = json_of(client.get(f"/plans/{silver}/add_ons/{support}/notes"), 404)["error"]["message"]
    assert f"under plan {gold}" not in outer
    assert f"under plan {silver}" in outer
    assert json_of(client.get(f"/webhooks/{note['id']}"))["text"] == "hi"  # the same resource at a top-level path


def test_seeded_children_have_parents_that_exist(client: FlaskClient) -> None:
    plans = {row["id"] for row in json_of(client.get("/plans"))["data"]}
    seen = 0
    for plan in plans:
        rows = json_of(client.get(f"/plans/{plan}/add_ons"))["data"]
        assert all(row["plan_id"] == plan for row in rows)
        seen += len(rows)
    assert seen == 10  # every seeded add-on is under one of the plans


def test_a_list_body_creates_and_upserts_every_record_it_holds(client: FlaskClient) -> None:
    made = json_of(client.put("/Items", json={"Items": [{"Code": "A"}, {"Code": "B"}, {"Code": "C"}]}))["Items"]
    assert [item["Code"] for item in made] == ["A", "B", "C"]
    assert len({item["ItemID"] for item in made}) == 3
    first = made[0]["ItemID"]
    assert json_of(client.get(f"/Items/{first}"))["Items"][0]["Code"] == "A"
    both = json_of(client.post("/Items", json={"Items": [{"ItemID": first, "Code": "A2"}, {"Code": "D"}]}))["Items"]
    assert both[0] == {"ItemID": first, "Code": "A2"}
    assert both[1]["Code"] == "D"
    codes = {item["Code"] for item in json_of(client.get("/Items"))["Items"]}
    assert {"A2", "B", "C", "D"} <= codes
    assert "A" not in codes
    json_of(client.put("/Items", json={"Items": [{"Code": "E"}, {"Code": 5}]}), 422)  # the whole body is checked
