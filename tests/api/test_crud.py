"""CRUD through the API for every resource: create, read, merge, replace, delete, list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import ACME_FULL, API, TODAY, auth
from flask import Flask
from flask.testing import FlaskClient

from api.support import (
    LIST_PATHS,
    REFERENCE_LISTS,
    WRITABLE,
    Writable,
    create,
    data_of,
    expect_error,
    fetch,
    fetch_all,
)

RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
SERVER_STAMPED = {"updated_at"}
by_name = pytest.mark.parametrize("resource", WRITABLE, ids=lambda w: w.name)


def shown(record: dict[str, Any], resource: Writable) -> dict[str, Any]:
    """A record as GET shows it: without the write-only fields."""
    return {k: v for k, v in record.items() if k not in resource.hidden}


@by_name
def test_create_returns_the_record_wrapped_in_data_with_server_fields(client: FlaskClient, resource: Writable) -> None:
    response = client.post(f"{API}{resource.path}", json=resource.body(), headers=auth())
    created = data_of(response, 201)
    assert set(response.get_json()) == {"data"}
    assert "Location" not in response.headers
    assert isinstance(created["id"], int)
    assert created["id"] >= 1
    assert RFC3339_UTC.fullmatch(created["created_at"])
    assert created["created_at"].startswith(TODAY)
    assert created["company_id"] == 1
    for name, value in resource.minimal.items():
        if name != "items":
            assert created[name] == value


@by_name
def test_get_returns_what_create_returned(client: FlaskClient, resource: Writable) -> None:
    created = create(client, resource.path, resource.body())
    assert fetch(client, f"{resource.path}/{created['id']}") == shown(created, resource)


@by_name
def test_patch_changes_only_the_sent_field(client: FlaskClient, resource: Writable) -> None:
    created = shown(create(client, resource.path, resource.body()), resource)
    response = client.patch(f"{API}{resource.path}/{created['id']}", json=resource.patch, headers=auth())
    patched = data_of(response)
    for name, value in resource.patch.items():
        assert patched[name] == value
    untouched = set(created) - set(resource.patch) - SERVER_STAMPED
    assert {k: patched.get(k) for k in untouched} == {k: created[k] for k in untouched}
    assert fetch(client, f"{resource.path}/{created['id']}") == patched


@by_name
def test_put_replaces_writable_fields_and_keeps_read_only_ones(client: FlaskClient, resource: Writable) -> None:
    created = create(client, resource.path, {**resource.body(), **resource.patch})
    response = client.put(f"{API}{resource.path}/{created['id']}", json=resource.body(), headers=auth())
    replaced = data_of(response)
    for name in resource.patch:
        if name in resource.minimal:
            assert replaced[name] == resource.minimal[name]
        else:
            assert replaced.get(name) in (None, resource.default), f"{name} survived a PUT that omitted it"
    for name in ("id", "company_id", "created_at"):
        assert replaced[name] == created[name]
    assert fetch(client, f"{resource.path}/{created['id']}") == replaced


@by_name
def test_delete_answers_204_and_the_record_is_gone(client: FlaskClient, resource: Writable) -> None:
    created = create(client, resource.path, resource.body())
    response = client.delete(f"{API}{resource.path}/{created['id']}", headers=auth())
    assert response.status_code == 204
    assert response.data == b""
    expect_error(client.get(f"{API}{resource.path}/{created['id']}", headers=auth()), 404, "not_found")
    expect_error(client.delete(f"{API}{resource.path}/{created['id']}", headers=auth()), 404, "not_found")
    assert created["id"] not in {r["id"] for r in fetch_all(client, resource.path)}


@by_name
def test_the_list_includes_a_created_record(client: FlaskClient, resource: Writable) -> None:
    before = fetch_all(client, resource.path)
    created = create(client, resource.path, resource.body())
    after = fetch_all(client, resource.path)
    assert len(after) == len(before) + 1
    assert shown(created, resource) in after


@by_name
def test_ids_are_never_reused_after_a_delete(client: FlaskClient, resource: Writable) -> None:
    first = create(client, resource.path, resource.body())
    assert client.delete(f"{API}{resource.path}/{first['id']}", headers=auth()).status_code == 204
    second = create(client, resource.path, resource.body())
    assert second["id"] > first["id"]


@by_name
def test_a_seeded_record_can_be_put_back_exactly_as_it_was_read(client: FlaskClient, resource: Writable) -> None:
    seeded = fetch(client, f"{resource.path}/1")
    replaced = data_of(client.put(f"{API}{resource.path}/1", json=seeded, headers=auth()))
    assert {k: v for k, v in replaced.items() if k != "updated_at"} == {
        k: v for k, v in seeded.items() if k != "updated_at"
    }


def test_transactions_are_listed_created_and_read_but_never_changed(client: FlaskClient) -> None:
    body = {
        "type": "EXPENSE",
        "account_id": 3,
        "amount": 8900,
        "date": "2026-06-02",
        "description": "Team lunch",
    }
    created = create(client, "/transactions", body)
    assert {k: created[k] for k in body} == body
    assert fetch(client, f"/transactions/{created['id']}") == created
    assert created in fetch_all(client, "/transactions")
    for method in ("PUT", "PATCH", "DELETE"):
        response = client.open(f"{API}/transactions/{created['id']}", method=method, json=body, headers=auth())
        expect_error(response, 405, "method_not_allowed")
        assert "GET" in response.headers["Allow"]
        assert method not in response.headers["Allow"]


def test_expense_categories_can_be_created_and_then_listed(client: FlaskClient) -> None:
    created = create(client, "/expense-categories", {"name": "Training", "description": "Courses and books."})
    assert created == {"id": created["id"], "name": "Training", "description": "Courses and books."}
    assert created in fetch_all(client, "/expense-categories")
    created_expense = create(
        client,
        "/expenses",
        {
            "expense_date": "2026-06-03",
            "expense_category_id": created["id"],
            "amount": 19900,
            "currency_id": 1,
        },
    )
    assert created_expense["expense_category_id"] == created["id"]


@pytest.mark.parametrize(
    ("path", "first"),
    [
        ("/currencies", {"id": 1, "code": "USD", "name": "US Dollar", "symbol": "$", "precision": 2}),
        ("/units", {"id": 1, "name": "hour"}),
        ("/payment-methods", {"id": 1, "name": "Bank Transfer"}),
        ("/departments", {"id": 1, "name": "Technical Support"}),
        ("/accounts", {"id": 1, "name": "Business Checking", "type": "BANK"}),
        (
            "/expense-categories",
            {
                "id": 1,
                "name": "Office Supplies",
                "description": "Stationery, printer ink and small equipment.",
            },
        ),
    ],
)
def test_reference_lists_serve_the_fixture_records(client: FlaskClient, path: str, first: dict[str, Any]) -> None:
    rows = fetch_all(client, path)
    assert rows[0] == first
    assert [r["id"] for r in rows] == list(range(1, len(rows) + 1))


@pytest.mark.parametrize("path", [p for p in REFERENCE_LISTS if p != "/expense-categories"])
def test_read_only_reference_lists_refuse_writes_with_405(client: FlaskClient, path: str) -> None:
    response = client.post(f"{API}{path}", json={"name": "New"}, headers=auth())
    expect_error(response, 405, "method_not_allowed")
    assert "POST" not in response.headers["Allow"]
    expect_error(client.get(f"{API}{path}/1", headers=auth()), 404, "not_found")


@pytest.mark.parametrize("path", LIST_PATHS)
def test_every_list_answers_with_data_links_and_meta(client: FlaskClient, path: str) -> None:
    response = client.get(f"{API}{path}", headers=auth())
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"data", "links", "meta"}
    assert body["meta"]["total"] >= len(body["data"]) > 0


EXAMPLE_FIELDS = {
    "/customers": {"name": "John Doe", "email": "john.doe@example.com"},
    "/invoices": {"invoice_number": "INV-000001", "customer_id": 1, "total": 50000},
    "/estimates": {"estimate_number": "EST-000001", "customer_id": 1},
    "/payments": {"payment_number": "PAY-000001", "amount": 20000},
    "/expenses": {"expense_number": "EXP-000001", "amount": 12500},
    "/items": {"name": "Web Development", "price": 15000},
    "/projects": {"name": "Website Redesign", "customer_id": 1},
    "/tickets": {"subject": "Technical support required"},
    "/leads": {"first_name": "John", "last_name": "Smith"},
    "/users": {"name": "Admin User", "role": "administrator"},
    "/webhooks": {"url": "http://127.0.0.1:9000/webhooks"},
    "/transactions": {"type": "INCOME", "amount": 150000},
}


@pytest.mark.parametrize(("path", "expected"), EXAMPLE_FIELDS.items())
def test_record_1_is_the_spec_example(client: FlaskClient, path: str, expected: dict[str, Any]) -> None:
    record = fetch(client, f"{path}/1")
    assert {k: record[k] for k in expected} == expected


def _documented(app: Flask, path: str) -> dict[str, Any]:
    content = app.extensions["sandbox"]["index"].document["paths"][f"{path}/{{id}}"]["get"]["responses"]["200"]
    media = content["content"]["application/json"]
    example = media.get("example") or next(iter(media["examples"].values()))["value"]
    return dict(example["data"])


@pytest.mark.parametrize("path", list(EXAMPLE_FIELDS))
def test_acme_record_1_is_the_get_example_verbatim(app: Flask, client: FlaskClient, path: str) -> None:
    assert fetch(client, f"{path}/1", ACME_FULL) == _documented(app, path)
