"""Writes that fail reserve nothing, lists link back from any page, search respects scopes, 204s are empty."""

from __future__ import annotations

from conftest import ACME_FULL, ACME_INVOICES_READ, API, auth
from flask.testing import FlaskClient

from tests.api.support import create, data_of, expect_error

INVOICE = {"customer_id": 1, "invoice_date": "2026-06-01", "items": [{"name": "Audit", "quantity": 1, "price": 100}]}


def test_a_rejected_create_uses_up_no_id_and_no_invoice_number(client: FlaskClient) -> None:
    first = create(client, "/invoices", INVOICE)
    rejected = client.post(f"{API}/invoices", json={**INVOICE, "customer_id": 999_999}, headers=auth())
    expect_error(rejected, 422, "validation_failed")
    second = create(client, "/invoices", INVOICE)
    assert second["id"] == first["id"] + 1
    assert int(second["invoice_number"][4:]) == int(first["invoice_number"][4:]) + 1


def test_a_rejected_batch_uses_up_no_customer_ids(client: FlaskClient) -> None:
    before = create(client, "/customers", {"name": "Before"})
    batch = {"customers": [{"name": "Fine"}, {"name": "Bad", "email": "not-an-email"}]}
    expect_error(client.post(f"{API}/batch/customers", json=batch, headers=auth()), 422, "validation_failed")
    after = create(client, "/customers", {"name": "After"})
    assert after["id"] == before["id"] + 1


def test_prev_points_one_page_back_from_any_page_after_the_first(client: FlaskClient) -> None:
    body = client.get(f"{API}/customers?page=99&limit=10", headers=auth()).get_json()
    assert body["data"] == []
    assert body["links"]["prev"].endswith("page=98")
    assert body["links"]["next"] is None


def test_search_only_returns_resources_the_key_may_read(client: FlaskClient) -> None:
    hits = data_of(client.get(f"{API}/search?q=a&limit=100", headers=auth(ACME_INVOICES_READ)))
    assert hits
    assert {hit["type"] for hit in hits} == {"invoices"}
    everything = data_of(client.get(f"{API}/search?q=a&limit=100", headers=auth(ACME_FULL)))
    assert len({hit["type"] for hit in everything}) > 1


def test_an_empty_response_has_no_content_type(client: FlaskClient) -> None:
    customer = create(client, "/customers", {"name": "Short-lived"})
    response = client.delete(f"{API}/customers/{customer['id']}", headers=auth())
    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers
