"""A foreign spec's identities and envelopes, served strictly: every response must meet the spec's own schemas."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.support import spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Billing, version: "1"}
servers: [{url: "https://api.example.com/v2"}]
paths:
  /add_ons:
    get:
      operationId: listAddOns
      parameters:
        - {name: page, in: query, schema: {type: integer, minimum: 1}}
        - {name: per_page, in: query, schema: {type: integer, minimum: 1, maximum: 50, default: 2}}
      responses:
        "200":
          description: One page.
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [add_ons, meta]
                properties:
                  add_ons: {type: array, items: {$ref: "#/components/schemas/AddOn"}}
                  meta:
                    type: object
                    additionalProperties: false
                    required: [current_page, next_page, prev_page, total_pages, total_count]
                    properties:
                      current_page: {type: integer}
                      next_page: {type: [integer, "null"]}
                      prev_page: {type: [integer, "null"]}
                      total_pages: {type: integer}
                      total_count: {type: integer}
        "422": {$ref: "#/components/responses/Lago"}
    post:
      operationId: createAddOn
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [add_on]
              properties:
                add_on:
                  type: object
                  additionalProperties: false
                  required: [name, code, amount_cents]
                  properties:
                    name: {type: string}
                    code: {type: string}
                    amount_cents: {type: integer}
      responses:
        "200": {$ref: "#/components/responses/AddOn"}
        "409": {$ref: "#/components/responses/Lago"}
        "422": {$ref: "#/components/responses/Lago"}
  /add_ons/{code}:
    parameters: [{name: code, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getAddOn
      responses:
        "200": {$ref: "#/components/responses/AddOn"}
        "404": {$ref: "#/components/responses/Lago"}
    delete:
      operationId: deleteAddOn
      responses:
        "200": {$ref: "#/components/responses/AddOn"}
        "404": {$ref: "#/components/responses/Lago"}
  /customers:
    get:
      operationId: listCustomers
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 10}}
        - {name: starting_after, in: query, schema: {type: string}}
      responses:
        "200":
          description: A list.
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [object, data, has_more, url]
                properties:
                  object: {type: string, enum: [list]}
                  data: {type: array, items: {$ref: "#/components/schemas/Customer"}}
                  has_more: {type: boolean}
                  url: {type: string, pattern: "^/v2/customers"}
        default: {$ref: "#/components/responses/Stripe"}
    post:
      operationId: createCustomer
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              additionalProperties: false
              properties:
                name: {type: string}
                email: {type: string}
      responses:
        "200": {$ref: "#/components/responses/Customer"}
        default: {$ref: "#/components/responses/Stripe"}
  /customers/{customer}:
    parameters: [{name: customer, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getCustomer
      responses:
        "200": {$ref: "#/components/responses/Customer"}
        default: {$ref: "#/components/responses/Stripe"}
    delete:
      operationId: deleteCustomer
      responses:
        "200":
          description: The deletion.
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [id, object, deleted]
                properties:
                  id: {type: string}
                  object: {type: string, enum: [customer]}
                  deleted: {type: boolean, enum: [true]}
        default: {$ref: "#/components/responses/Stripe"}
  /customers/{customer}/exports:
    post:
      operationId: exportCustomer
      parameters: [{name: customer, in: path, required: true, schema: {type: string}}]
      responses:
        "202":
          description: An export job.
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [job_id, state]
                properties:
                  job_id: {type: string, format: uuid}
                  state: {type: string, enum: [queued, done]}
        default: {$ref: "#/components/responses/Stripe"}
  /accounts:
    get:
      operationId: listAccounts
      responses:
        "200":
          description: Accounts.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Account"}}
    post:
      operationId: createAccount
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Account"}
      responses:
        "201":
          description: Created.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Account"}
  /accounts/{id}:
    get:
      operationId: getAccount
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: An account.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Account"}
  /admin/cache/accounts:
    get:
      operationId: listCachedAccounts
      parameters:
        - {name: offset, in: query, schema: {type: integer, minimum: 0}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, default: 2}}
      responses:
        "200":
          description: Cache entries.
          headers:
            X-Total-Count: {schema: {type: integer}}
            Link: {schema: {type: string}}
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/CacheEntry"}}
components:
  responses:
    AddOn:
      description: An add-on.
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            required: [add_on]
            properties:
              add_on: {$ref: "#/components/schemas/AddOn"}
    Customer:
      description: A customer.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Customer"}
          example: {id: cus_NffrFeUfNV2Hib, object: customer, name: Jenny Rosen}
    Lago:
      description: An error.
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            required: [status, error, code]
            properties:
              status: {type: integer}
              error: {type: string}
              code: {type: string}
              error_details: {type: object, additionalProperties: {type: array, items: {type: string}}}
    Stripe:
      description: An error.
      content:
        application/json:
          schema:
            type: object
            additionalProperties: false
            required: [error]
            properties:
              error:
                type: object
                additionalProperties: false
                required: [type]
                properties:
                  type: {type: string, enum: [api_error, card_error, invalid_request_error]}
                  code: {type: string}
                  message: {type: string}
                  param: {type: string}
  schemas:
    AddOn:
      type: object
      additionalProperties: false
      required: [lago_id, name, code, amount_cents]
      properties:
        lago_id: {type: string, format: uuid, readOnly: true}
        name: {type: string}
        code: {type: string}
        amount_cents: {type: integer}
    Customer:
      type: object
      additionalProperties: false
      required: [id, object]
      properties:
        id: {type: string, readOnly: true}
        object: {type: string, enum: [customer]}
        name: {type: [string, "null"]}
        email: {type: [string, "null"]}
    Account:
      type: object
      additionalProperties: false
      required: [id, name]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
    CacheEntry:
      type: object
      additionalProperties: false
      required: [key]
      properties:
        key: {type: string, readOnly: true}
        hits: {type: integer}
"""
CUSTOMER_ID = re.compile(r"^cus_[A-Za-z0-9]{14}$")


@pytest.fixture(scope="module")
def foreign_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return spec_app(
        tmp_path_factory.mktemp("foreign"), SPEC, strict=True, seed=3, today=dt.date(2026, 6, 15), quiet=True
    )


@pytest.fixture
def client(foreign_app: Flask) -> FlaskClient:
    foreign_app.extensions["sandbox"]["engine"].reset()
    return foreign_app.test_client()


def test_a_client_chosen_code_is_the_identity_and_wrappers_are_read_from_the_spec(client: FlaskClient) -> None:
    created = client.post("/v2/add_ons", json={"add_on": {"name": "Setup", "code": "setup_fee", "amount_cents": 500}})
    assert created.status_code == 200, created.text
    record = created.json["add_on"]  # type: ignore[index]
    assert record["code"] == "setup_fee"
    assert record["amount_cents"] == 500
    assert re.fullmatch(r"[0-9a-f-]{36}", record["lago_id"])  # readOnly uuid, filled by the server
    read = client.get("/v2/add_ons/setup_fee")
    assert read.status_code == 200
    assert read.json == {"add_on": record}
    again = client.post("/v2/add_ons", json={"add_on": {"name": "Twice", "code": "setup_fee", "amount_cents": 1}})
    assert again.status_code == 409


def test_a_list_envelope_carries_its_rows_under_its_own_name_and_its_meta(client: FlaskClient) -> None:
    first = client.get("/v2/add_ons?per_page=2")
    assert first.status_code == 200, first.text
    body = first.json
    assert body is not None
    assert len(body["add_ons"]) == 2
    total = body["meta"]["total_count"]
    assert body["meta"] == {
        "current_page": 1,
        "next_page": 2 if total > 2 else None,
        "prev_page": None,
        "total_pages": -(-total // 2),
        "total_count": total,
    }


def test_a_server_generated_string_id_takes_the_prefix_its_example_shows(client: FlaskClient) -> None:
    created = client.post("/v2/customers", data={"name": "Jenny"})
    assert created.status_code == 200, created.text
    customer = created.json
    assert customer is not None
    assert CUSTOMER_ID.match(customer["id"]), customer
    assert customer["object"] == "customer"
    assert client.get(f"/v2/customers/{customer['id']}").json == customer
    newest = client.get("/v2/customers?limit=2").json["data"]  # type: ignore[index]
    assert customer in newest  # newest first, as Stripe lists (only the documented record's own id may sort above)
    deleted = client.delete(f"/v2/customers/{customer['id']}")
    assert deleted.json == {"id": customer["id"], "object": "customer", "deleted": True}
    gone = client.get(f"/v2/customers/{customer['id']}")
    assert gone.status_code == 404
    error = gone.json["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "not_found"
    assert customer["id"] in error["message"]


def test_cursor_pages_follow_starting_after_and_say_whether_more_follow(client: FlaskClient) -> None:
    seen: list[str] = []
    after = ""
    while True:
        page = client.get(f"/v2/customers?limit=3{after}")
        assert page.status_code == 200, page.text
        body = page.json
        assert body is not None
        assert body["object"] == "list"
        assert body["url"] == "/v2/customers"
        seen += [row["id"] for row in body["data"]]
        if not body["has_more"]:
            break
        after = f"&starting_after={body['data'][-1]['id']}"
    everyone = client.get("/v2/customers?limit=100").json["data"]  # type: ignore[index]
    assert len(seen) == len(set(seen)) == len(everyone) == 11  # 10 seeded and the documented one, each once
    assert "cus_NffrFeUfNV2Hib" in seen
    assert all(CUSTOMER_ID.match(i) for i in seen)


def test_an_action_answers_its_documented_response_not_the_record(client: FlaskClient) -> None:
    customer = client.get("/v2/customers?limit=1").json["data"][0]  # type: ignore[index]
    job = client.post(f"/v2/customers/{customer['id']}/exports")
    assert job.status_code == 202, job.text
    assert set(job.json) == {"job_id", "state"}  # type: ignore[arg-type]


def test_the_specs_own_error_schema_carries_field_messages(client: FlaskClient) -> None:
    refused = client.post("/v2/add_ons", json={"add_on": {"name": 5, "code": "x", "amount_cents": 1}})
    assert refused.status_code == 422
    body = refused.json
    assert body is not None
    assert body["status"] == 422
    assert body["code"] == "validation_failed"
    assert body["error"] == "Unprocessable Entity"
    assert list(body["error_details"]) == ["add_on.name"]


def test_two_collections_ending_in_the_same_word_stay_two_resources(client: FlaskClient) -> None:
    accounts = client.get("/v2/accounts").json
    cached = client.get("/v2/admin/cache/accounts?limit=2&offset=2")
    assert accounts
    assert all(set(row) == {"id", "name"} for row in accounts)
    assert cached.status_code == 200, cached.text
    assert all("key" in row for row in cached.json)  # type: ignore[union-attr]
    assert cached.headers["X-Total-Count"] == "0"  # its own (unseeded, read-only) table, not the accounts
    created = client.post("/v2/accounts", json={"name": "Ops"})
    assert created.status_code == 201
    assert isinstance(created.json["id"], int)
