"""Records are complete and consistent: created, rewritten and seeded ones carry the same keys, filled the same way."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import ACME_FULL, API, GLOBEX_FULL, auth
from flask import Flask
from flask.testing import FlaskClient

from api.support import (
    WRITABLE,
    Writable,
    create,
    data_of,
    estimate_body,
    expect_error,
    fetch,
    fetch_all,
    invoice_body,
    json_of,
    line,
    spec_app,
)

by_name = pytest.mark.parametrize("resource", WRITABLE, ids=lambda w: w.name)


def shown_properties(app: Flask, resource: Writable) -> set[str]:
    """Every property the resource's schema declares, minus the writeOnly ones a response never shows."""
    record = app.extensions["sandbox"]["index"].resources[resource.name]
    return set(record.schema["properties"]) - set(record.write_only)


def line_ids(documents: list[dict[str, Any]]) -> list[Any]:
    """The ids of every line of every document."""
    return [item["id"] for document in documents for item in document["items"]]


@by_name
def test_a_created_record_carries_the_same_keys_as_every_seeded_one(
    app: Flask, client: FlaskClient, resource: Writable
) -> None:
    seeded = fetch_all(client, resource.path)
    created = create(client, resource.path, resource.body())
    expected = shown_properties(app, resource)
    assert seeded
    for record in seeded:
        assert set(record) == expected, record.get("id")
    assert expected <= set(created)
    assert set(created) - expected <= resource.hidden  # a webhook's create shows its signing secret, once
    assert set(fetch(client, f"{resource.path}/{created['id']}")) == expected


@by_name
def test_a_replaced_or_patched_record_keeps_every_key(app: Flask, client: FlaskClient, resource: Writable) -> None:
    created = create(client, resource.path, resource.body())
    item = f"{API}{resource.path}/{created['id']}"
    expected = shown_properties(app, resource)
    replaced = data_of(client.put(item, json=resource.body(), headers=auth()))
    assert set(replaced) == expected
    patched = data_of(client.patch(item, json=resource.patch, headers=auth()))
    assert set(patched) == expected


def test_omitted_fields_get_the_schema_default_or_null(client: FlaskClient) -> None:
    invoice = create(client, "/invoices", invoice_body())
    assert (invoice["notes"], invoice["reference_number"], invoice["project_id"]) == (None, None, None)
    assert (invoice["discount_type"], invoice["discount"], invoice["template_name"]) == ("fixed", 0, "invoice1")
    assert (invoice["items"][0]["description"], invoice["items"][0]["tax_rate"]) == (None, 0)
    customer = create(client, "/customers", {"name": "Jane Roe"})
    for name in ("email", "phone", "website", "billing", "shipping", "notes"):
        assert customer[name] is None, name


def test_currency_defaults_to_the_customers_else_the_companys(client: FlaskClient) -> None:
    usd, gbp, eur = 1, 3, 2  # reference currencies; Acme bills in USD, Globex in GBP (fixtures/companies.yaml)
    assert create(client, "/customers", {"name": "Jane Roe"})["currency_id"] == usd
    assert create(client, "/customers", {"name": "Fred Bloggs"}, GLOBEX_FULL)["currency_id"] == gbp
    assert create(client, "/items", {"name": "Logo design", "price": 25000})["currency_id"] == usd
    euro_customer = create(client, "/customers", {"name": "Erika Mustermann", "currency_id": eur})
    invoice = create(client, "/invoices", invoice_body(customer_id=euro_customer["id"]))
    assert invoice["currency_id"] == eur
    estimate = create(client, "/estimates", estimate_body(customer_id=euro_customer["id"]))
    assert estimate["currency_id"] == eur
    chosen = create(client, "/invoices", invoice_body(customer_id=euro_customer["id"], currency_id=usd))
    assert chosen["currency_id"] == usd


def test_a_put_without_currency_takes_the_default_again(client: FlaskClient) -> None:
    customer = create(client, "/customers", {"name": "Jane Roe", "currency_id": 2})
    replaced = data_of(client.put(f"{API}/customers/{customer['id']}", json={"name": "Jane Roe"}, headers=auth()))
    assert replaced["currency_id"] == 1


@pytest.mark.parametrize("path", ["/invoices", "/estimates"])
def test_seeded_line_ids_are_unique_across_documents(client: FlaskClient, path: str) -> None:
    for key in (ACME_FULL, GLOBEX_FULL):
        ids = line_ids(fetch_all(client, path, key))
        assert len(ids) > len(fetch_all(client, path, key))  # documents with several lines
        assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_created_line_ids_are_new_across_the_company(client: FlaskClient) -> None:
    seeded = set(line_ids(fetch_all(client, "/invoices")))
    first = create(client, "/invoices", invoice_body(items=[line("A"), line("B")]))
    second = create(client, "/invoices", invoice_body(items=[line("C"), line("D"), line("E")]))
    made = line_ids([first, second])
    assert len(set(made)) == 5
    assert not seeded & set(made)
    assert all(isinstance(i, int) and i >= 1 for i in made)
    ids = line_ids(fetch_all(client, "/invoices"))
    assert len(ids) == len(set(ids))


def test_a_rewrite_keeps_the_ids_of_lines_sent_back_and_numbers_new_ones(client: FlaskClient) -> None:
    invoice = create(client, "/invoices", invoice_body(items=[line("A"), line("B")]))
    path = f"{API}/invoices/{invoice['id']}"
    kept = invoice["items"][1]
    body = invoice_body(items=[{k: kept[k] for k in ("id", "name", "quantity", "price")}, line("New")])
    replaced = data_of(client.put(path, json=body, headers=auth()))
    assert replaced["items"][0]["id"] == kept["id"]
    fresh = replaced["items"][1]["id"]
    assert fresh not in line_ids([invoice])
    patched = data_of(client.patch(path, json={"items": [*replaced["items"], line("Newer")]}, headers=auth()))
    assert [i["id"] for i in patched["items"][:2]] == [kept["id"], fresh]
    assert patched["items"][2]["id"] not in {kept["id"], fresh, *line_ids([invoice])}
    everything = line_ids(fetch_all(client, "/invoices"))
    assert len(everything) == len(set(everything))


def test_a_line_sent_with_another_documents_line_id_is_422_naming_it(client: FlaskClient) -> None:
    other = create(client, "/invoices", invoice_body())
    invoice = create(client, "/invoices", invoice_body())
    stolen = {**line(), "id": other["items"][0]["id"]}
    response = client.put(f"{API}/invoices/{invoice['id']}", json=invoice_body(items=[stolen]), headers=auth())
    errors = expect_error(response, 422, "validation_failed")["errors"]
    assert list(errors) == ["items.0.id"]
    assert "read-only" in errors["items.0.id"][0]


ORDERS = """\
openapi: 3.1.0
info: {title: Orders, version: "1"}
paths:
  /orders:
    get:
      operationId: listOrders
      x-sandbox-seed: 6
      responses:
        "200":
          description: Orders.
          content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/Order"}}}}
    post:
      operationId: createOrder
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}}
      responses:
        "201": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}}
  /orders/{id}:
    get:
      operationId: getOrder
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200": {description: One., content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}}
components:
  schemas:
    Order:
      type: object
      required: [id, lines]
      properties:
        id: {type: integer, readOnly: true}
        note: {type: [string, "null"]}
        channel: {type: string, enum: [web, shop], default: web}
        coupon: {type: string}
        lines:
          type: array
          minItems: 1
          items:
            type: object
            required: [sku]
            properties:
              id: {type: integer, readOnly: true}
              sku: {type: string}
              gift: {type: boolean, default: false}
"""


def test_a_foreign_spec_gets_defaults_nulls_and_unique_nested_ids(tmp_path: Path) -> None:
    client = spec_app(tmp_path, ORDERS, seed=3).test_client()
    seeded = json_of(client.get("/orders", headers=auth()))
    made = json_of(client.post("/orders", json={"lines": [{"sku": "A"}, {"sku": "B"}]}, headers=auth()), 201)
    assert made == {
        "id": made["id"],
        "note": None,
        "channel": "web",
        "lines": [{"id": made["lines"][0]["id"], "sku": "A", "gift": False}, made["lines"][1]],
    }  # coupon: optional, not nullable, no default, not sent: left out
    for order in seeded:
        assert {"id", "note", "channel", "lines"} <= set(order)
        assert all(set(item) == {"id", "sku", "gift"} for item in order["lines"])
    ids = line_ids([{"items": order["lines"]} for order in [*seeded, made]])
    assert len(ids) == len(set(ids))
