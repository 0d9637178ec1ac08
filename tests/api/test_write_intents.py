"""What a write means when the path alone does not say: words, create paths, item reads, nested updates, codes."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Intents, version: "1"}
paths:
  /Accounts:
    get:
      operationId: getAccounts
      responses: {"200": {$ref: "#/components/responses/Accounts"}}
    put:
      operationId: createAccount
      summary: Creates a new account
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Account"}}}}
      responses: {"200": {$ref: "#/components/responses/Accounts"}}
    post:
      operationId: updateOrCreateAccounts
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Accounts"}}}}
      responses: {"200": {$ref: "#/components/responses/Accounts"}}
  /Accounts/{AccountID}:
    parameters: [{name: AccountID, in: path, required: true, schema: {type: string, format: uuid}}]
    get:
      operationId: getAccount
      responses: {"200": {$ref: "#/components/responses/Accounts"}}
    post:
      operationId: updateAccount
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Accounts"}}}}
      responses: {"200": {$ref: "#/components/responses/Accounts"}}
  /members:
    post:
      operationId: createMember
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [code, name]
              properties: {code: {type: string}, name: {type: string}}
      responses:
        "201":
          description: A member.
          content: {application/json: {schema: {$ref: "#/components/schemas/Member"}}}
  /members/{member_id}:
    parameters: [{name: member_id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getMember
      responses:
        "200":
          description: A member.
          content: {application/json: {schema: {$ref: "#/components/schemas/Member"}}}
    put:
      operationId: updateMember
      requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/Member"}}}}
      responses:
        "200": {description: A member., content: {application/json: {schema: {$ref: "#/components/schemas/Member"}}}}
        default: {$ref: "#/components/responses/Error"}
  /taxonomies:
    post:
      operationId: createTaxonomy
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties: {taxonomy: {type: object, required: [name], properties: {name: {type: string}}}}
      responses:
        "200":
          description: Made.
          content: {application/json: {schema: {$ref: "#/components/schemas/Taxonomy"}}}
  /taxonomies/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getTaxonomy
      responses: {"200": {description: Any body., content: {application/json: {schema: {}}}}}
  /webhooks:
    post:
      operationId: createWebhook
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Webhook"}}}}
      responses:
        "200":
          description: Made.
          content: {application/json: {schema: {$ref: "#/components/schemas/Webhook"}}}
  /webhooks/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
    get:
      operationId: getWebhook
      responses:
        "200":
          description: One.
          content: {application/json: {schema: {$ref: "#/components/schemas/Webhook"}}}
  /volumes/create:
    post:
      operationId: VolumeCreate
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [Name], properties: {Name: {type: string}, Driver: {type: string}}}
      responses:
        "201": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/Volume"}}}}
        default: {$ref: "#/components/responses/Error"}
  /volumes/{name}:
    parameters: [{name: name, in: path, required: true, schema: {type: string}}]
    get:
      operationId: VolumeInspect
      responses:
        "200":
          description: One.
          content: {application/json: {schema: {$ref: "#/components/schemas/Volume"}}}
    put:
      operationId: VolumeUpdate
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {Spec: {$ref: "#/components/schemas/VolumeSpec"}}}
      responses: {"200": {description: Done.}}
  /boxes/json:
    get:
      operationId: BoxList
      parameters: [{name: limit, in: query, schema: {type: integer}}]
      responses:
        "200":
          description: Boxes.
          content:
            application/json:
              schema: {type: array, items: {type: object, properties: {Id: {type: string}, Image: {type: string}}}}
  /boxes/create:
    post:
      operationId: BoxCreate
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties: {Image: {type: string}, Host: {$ref: "#/components/schemas/Host"}}
      responses:
        "201":
          description: Made.
          content:
            application/json:
              schema: {type: object, required: [Id], properties: {Id: {type: string}, Warnings: {type: array}}}
  /boxes/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    delete:
      operationId: BoxDelete
      responses: {"204": {description: Gone.}}
  /boxes/{id}/json:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: BoxInspect
      responses:
        "200":
          description: One.
          content:
            application/json:
              schema:
                type: object
                properties: {Id: {type: string}, Image: {type: string}, Host: {$ref: "#/components/schemas/Host"}}
        default: {$ref: "#/components/responses/Error"}
  /boxes/{id}/top:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: BoxTop
      responses:
        "200":
          description: Processes.
          content: {application/json: {schema: {type: object, properties: {Titles: {type: array}}}}}
  /boxes/{id}/update:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    post:
      operationId: BoxUpdate
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Resources"}}}}
      responses: {"200": {description: Done.}}
components:
  responses:
    Error:
      description: What went wrong.
      content: {application/json: {schema: {type: object}}}
    Accounts:
      description: Accounts.
      content: {application/json: {schema: {$ref: "#/components/schemas/Accounts"}}}
  schemas:
    Accounts:
      type: object
      properties: {Accounts: {type: array, items: {$ref: "#/components/schemas/Account"}}}
    Account:
      type: object
      properties:
        AccountID: {type: string, format: uuid}
        Name: {type: string}
        Description: {type: string}
    Member:
      type: object
      properties:
        id: {type: string, readOnly: true}
        code: {type: string, readOnly: true}
        name: {type: string}
    Taxonomy:
      type: object
      properties: {id: {type: integer}, name: {type: string}}
    Webhook:
      type: object
      required: [url]
      properties: {id: {type: integer, readOnly: true}, url: {type: string}, description: {type: string}}
    Volume:
      type: object
      properties:
        Name: {type: string}
        Driver: {type: string}
        Cluster: {type: object, properties: {ID: {type: string}, Spec: {$ref: "#/components/schemas/VolumeSpec"}}}
    VolumeSpec:
      type: object
      properties: {Availability: {type: string, enum: [active, pause, drain]}, Group: {type: string}}
    Resources:
      type: object
      properties: {Memory: {type: integer}, CpuShares: {type: integer}}
    Host:
      allOf:
        - {$ref: "#/components/schemas/Resources"}
        - {type: object, properties: {NetworkMode: {type: string}}}
"""


@pytest.fixture(scope="module")
def intents_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return spec_app(
        tmp_path_factory.mktemp("intents"), SPEC, strict=True, seed=3, today=dt.date(2026, 6, 15), quiet=True
    )


@pytest.fixture
def client(intents_app: Flask) -> FlaskClient:
    intents_app.extensions["sandbox"]["engine"].reset()
    return intents_app.test_client()


def test_a_put_on_a_collection_that_says_create_creates_and_the_item_post_updates(client: FlaskClient) -> None:
    created = json_of(client.put("/Accounts", json={"Name": "Sales", "Description": "first"}))["Accounts"][0]
    account_id = created["AccountID"]
    assert json_of(client.get(f"/Accounts/{account_id}"))["Accounts"][0]["Name"] == "Sales"
    update = {"Accounts": [{"Description": "second"}]}
    assert json_of(client.post(f"/Accounts/{account_id}", json=update))["Accounts"][0]["Description"] == "second"
    listed = json_of(client.get("/Accounts"))["Accounts"]
    assert [row["Description"] for row in listed if row["AccountID"] == account_id] == ["second"]


def test_an_upsert_updates_the_record_its_body_names_and_creates_one_otherwise(client: FlaskClient) -> None:
    made = json_of(client.post("/Accounts", json={"Accounts": [{"Name": "Bank"}]}))["Accounts"][0]
    again = {"Accounts": [{"AccountID": made["AccountID"], "Name": "Bank 2"}]}
    assert json_of(client.post("/Accounts", json=again))["Accounts"][0] == {**made, "Name": "Bank 2"}
    chosen = "6f0b8b0e-1d3c-4c36-9a53-8f7e2b9b1a11"
    fresh = json_of(client.post("/Accounts", json={"Accounts": [{"AccountID": chosen, "Name": "New"}]}))
    assert fresh["Accounts"][0]["AccountID"] == chosen
    assert json_of(client.get(f"/Accounts/{chosen}"))["Accounts"][0]["Name"] == "New"


def test_a_code_the_create_body_sets_is_kept_though_the_record_marks_it_read_only(client: FlaskClient) -> None:
    member = json_of(client.post("/members", json={"code": "bob", "name": "Bob"}), 201)
    assert member["code"] == "bob"
    assert member["id"] != "bob"  # the id stays the server's
    kept = json_of(client.put(f"/members/{member['id']}", json={"name": "Robert"}))
    assert kept == {**member, "name": "Robert"}
    changed = client.put(f"/members/{member['id']}", json={"name": "Rob", "code": "rob"})
    assert changed.status_code == 422  # fixed once created: readOnly from then on
    assert "code" in changed.json["errors"]  # type: ignore[index]


def test_a_read_schema_that_says_nothing_shows_the_record_under_the_representations_id(client: FlaskClient) -> None:
    made = json_of(client.post("/taxonomies", json={"taxonomy": {"name": "Colors"}}))
    assert isinstance(made["id"], int)  # the representation's integer id, not a token the input schema lacks
    assert json_of(client.get(f"/taxonomies/{made['id']}")) == made


def test_a_resource_named_webhooks_in_a_spec_without_events_is_only_data(client: FlaskClient) -> None:
    made = json_of(client.post("/webhooks", json={"url": "YOUR_WEBHOOK_URL"}))
    assert json_of(client.get(f"/webhooks/{made['id']}"))["url"] == "YOUR_WEBHOOK_URL"


def test_a_create_path_under_a_collection_creates_there_under_the_name_the_client_chose(
    client: FlaskClient,
) -> None:
    made = json_of(client.post("/volumes/create", json={"Name": "data", "Driver": "local"}), 201)
    assert made["Name"] == "data"
    assert json_of(client.get("/volumes/data"))["Driver"] == "local"
    assert client.post("/volumes/create", json={"Name": "data"}).status_code == 409
    client.put("/volumes/data", json={"Spec": {"Availability": "pause"}})
    assert json_of(client.get("/volumes/data"))["Cluster"]["Spec"] == {"Availability": "pause"}


def test_a_record_read_and_updated_under_its_item_path_lives_through_its_lifecycle(client: FlaskClient) -> None:
    made = json_of(client.post("/boxes/create", json={"Image": "alpine", "Host": {"Memory": 1, "CpuShares": 2}}), 201)
    box = made["Id"]
    assert json_of(client.get(f"/boxes/{box}/json"))["Image"] == "alpine"
    assert client.post(f"/boxes/{box}/update", json={"Memory": 5}).status_code == 200
    assert json_of(client.get(f"/boxes/{box}/json"))["Host"] == {"Memory": 5, "CpuShares": 2}
    listed = json_of(client.get("/boxes/json"))
    assert box in [row["Id"] for row in listed]  # a limit alone pages nothing: every box, unless asked for fewer
    assert len(json_of(client.get("/boxes/json?limit=2"))) == 2
    assert client.delete(f"/boxes/{box}").status_code == 204
    assert client.get(f"/boxes/{box}/json").status_code == 404


def test_a_name_the_client_chose_longer_than_an_id_may_be_is_a_422_that_says_so(client: FlaskClient) -> None:
    answer = client.post("/volumes/create", json={"Name": "v" * 2001, "Driver": "local"})
    assert answer.status_code == 422, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["errors"] == {"Name": ["An id may be at most 2,000 bytes in UTF-8; this one has 2,001."]}
    assert client.post("/volumes/create", json={"Name": "v" * 2000, "Driver": "local"}).status_code == 201
