"""Lifecycles that follow the sandbox clock, editing rules per status, and a seed that obeys the rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import API, TODAY, auth
from flask import Flask
from flask.testing import FlaskClient

from mockserver.state.clock import Clock
from tests.api.support import create, data_of, expect_error, fetch, fetch_all

LINE = {"name": "Consulting", "quantity": 2, "price": 10000}


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    """The shared sandbox's clock; whatever a test pins is put back afterwards."""
    engine_clock: Clock = app.extensions["sandbox"]["engine"].clock
    saved = engine_clock.setting
    yield engine_clock
    engine_clock.setting = saved


def invoice(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    body = {"customer_id": 1, "invoice_date": "2026-06-01", "items": [LINE], **fields}
    return create(client, "/invoices", body)


def act(client: FlaskClient, path: str, status: int = 200) -> dict[str, Any]:
    response = client.post(f"{API}{path}", headers=auth())
    if status >= 400:
        return expect_error(response, status, "conflict")
    record: dict[str, Any] = data_of(response, status)
    return record


def test_a_sent_invoice_past_its_due_date_is_overdue_at_once(client: FlaskClient) -> None:
    draft = invoice(client, due_date="2026-06-10")
    assert draft["status"] == "DRAFT"  # a draft is never overdue
    assert act(client, f"/invoices/{draft['id']}/send")["status"] == "OVERDUE"


def test_an_invoice_becomes_overdue_when_the_clock_passes_its_due_date(client: FlaskClient, clock: Clock) -> None:
    sent = act(client, f"/invoices/{invoice(client, due_date='2026-06-30')['id']}/send")
    assert sent["status"] == "SENT"
    clock.set_today(dt.date(2026, 7, 1))
    assert fetch(client, f"/invoices/{sent['id']}")["status"] == "OVERDUE"
    overdue_ids = {row["id"] for row in fetch_all(client, "/invoices", status="OVERDUE")}
    assert sent["id"] in overdue_ids
    clock.set_today(dt.date(2026, 6, 20))
    assert fetch(client, f"/invoices/{sent['id']}")["status"] == "SENT"


def test_paying_an_overdue_invoice_completes_it_and_deleting_the_payment_reopens_it(client: FlaskClient) -> None:
    overdue = act(client, f"/invoices/{invoice(client, due_date='2026-06-10')['id']}/send")
    paid = act(client, f"/invoices/{overdue['id']}/mark-paid")
    assert (paid["status"], paid["paid_status"], paid["due_amount"]) == ("COMPLETED", "PAID", 0)
    assert paid["paid_at"] is not None
    [payment] = fetch_all(client, "/payments", invoice_id=overdue["id"])
    assert client.delete(f"{API}/payments/{payment['id']}", headers=auth()).status_code == 204
    reopened = fetch(client, f"/invoices/{overdue['id']}")
    assert (reopened["status"], reopened["paid_status"], reopened["due_amount"]) == ("OVERDUE", "UNPAID", 20000)
    assert reopened["paid_at"] is None


def test_changing_a_payment_moves_the_due_amount_both_ways(client: FlaskClient) -> None:
    sent = act(client, f"/invoices/{invoice(client, due_date='2026-12-31')['id']}/send")
    body = {"customer_id": 1, "invoice_id": sent["id"], "amount": 5000, "payment_date": TODAY}
    payment = create(client, "/payments", body)
    assert fetch(client, f"/invoices/{sent['id']}")["due_amount"] == 15000
    patched = client.patch(f"{API}/payments/{payment['id']}", json={"amount": 20000}, headers=auth())
    assert data_of(patched)["amount"] == 20000
    assert fetch(client, f"/invoices/{sent['id']}")["paid_status"] == "PAID"
    client.patch(f"{API}/payments/{payment['id']}", json={"amount": 1}, headers=auth())
    after = fetch(client, f"/invoices/{sent['id']}")
    assert (after["due_amount"], after["paid_status"], after["status"]) == (19999, "PARTIALLY_PAID", "SENT")


def test_a_completed_invoice_cannot_be_edited_until_it_is_uncompleted(client: FlaskClient) -> None:
    done = act(client, f"/invoices/{invoice(client)['id']}/complete")
    body = expect_error(
        client.patch(f"{API}/invoices/{done['id']}", json={"notes": "x"}, headers=auth()), 409, "conflict"
    )
    assert "COMPLETED" in body["message"]
    act(client, f"/invoices/{done['id']}/uncomplete")
    assert data_of(client.patch(f"{API}/invoices/{done['id']}", json={"notes": "x"}, headers=auth()))["notes"] == "x"


def test_an_invoice_with_payments_keeps_its_customer_and_covers_what_was_paid(client: FlaskClient) -> None:
    sent = act(client, f"/invoices/{invoice(client, due_date='2026-12-31')['id']}/send")
    create(client, "/payments", {"customer_id": 1, "invoice_id": sent["id"], "amount": 15000, "payment_date": TODAY})
    cheaper = {"items": [{"name": "Less", "quantity": 1, "price": 100}]}
    errors = expect_error(
        client.patch(f"{API}/invoices/{sent['id']}", json=cheaper, headers=auth()), 422, "validation_failed"
    )
    assert "items" in errors["errors"]
    other = client.patch(f"{API}/invoices/{sent['id']}", json={"customer_id": 2}, headers=auth())
    assert "customer_id" in expect_error(other, 422, "validation_failed")["errors"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/invoices", {"customer_id": 1, "invoice_date": "2026-06-10", "due_date": "2026-06-01", "items": [LINE]}),
        ("/estimates", {"customer_id": 1, "estimate_date": "2026-06-10", "expiry_date": "2026-06-01", "items": [LINE]}),
        ("/projects", {"name": "Backwards", "customer_id": 1, "start_date": "2026-06-10", "end_date": "2026-06-01"}),
    ],
)
def test_an_end_date_before_its_start_date_is_422(client: FlaskClient, path: str, body: dict[str, Any]) -> None:
    field = next(k for k in ("due_date", "expiry_date", "end_date") if k in body)
    errors = expect_error(client.post(f"{API}{path}", json=body, headers=auth()), 422, "validation_failed")
    assert field in errors["errors"]


def test_an_estimate_expires_with_the_clock_and_then_cannot_be_accepted(client: FlaskClient, clock: Clock) -> None:
    body = {"customer_id": 1, "estimate_date": "2026-06-01", "expiry_date": "2026-06-30", "items": [LINE]}
    estimate = act(client, f"/estimates/{create(client, '/estimates', body)['id']}/send")
    clock.set_today(dt.date(2026, 7, 1))
    assert fetch(client, f"/estimates/{estimate['id']}")["status"] == "EXPIRED"
    assert "EXPIRED" in act(client, f"/estimates/{estimate['id']}/accept", 409)["message"]
    assert "EXPIRED" in act(client, f"/estimates/{estimate['id']}/convert", 409)["message"]


def test_a_converted_estimate_is_final(client: FlaskClient) -> None:
    body = {"customer_id": 1, "estimate_date": "2026-06-01", "items": [LINE]}
    estimate = create(client, "/estimates", body)
    new_invoice = act(client, f"/estimates/{estimate['id']}/convert", 201)
    assert new_invoice["estimate_id"] == estimate["id"]
    converted = fetch(client, f"/estimates/{estimate['id']}")
    assert (converted["status"], converted["invoice_id"]) == ("ACCEPTED", new_invoice["id"])
    edit = client.patch(f"{API}/estimates/{estimate['id']}", json={"notes": "x"}, headers=auth())
    expect_error(edit, 409, "conflict")
    expect_error(client.delete(f"{API}/estimates/{estimate['id']}", headers=auth()), 409, "conflict")


def test_the_seed_obeys_the_rules(client: FlaskClient) -> None:
    invoices = fetch_all(client, "/invoices")
    payments = fetch_all(client, "/payments")
    paid_by_invoice: dict[int, int] = {}
    for payment in payments:
        if payment["invoice_id"] is not None:
            paid_by_invoice[payment["invoice_id"]] = paid_by_invoice.get(payment["invoice_id"], 0) + payment["amount"]
    by_id = {row["id"]: row for row in invoices}
    for row in invoices:
        assert row["due_amount"] == row["total"] - paid_by_invoice.get(row["id"], 0)
        if row["paid_status"] == "PAID":
            assert paid_by_invoice.get(row["id"], 0) == row["total"]
        if row["status"] == "OVERDUE":
            assert row["due_date"] < TODAY
            assert row["paid_status"] != "PAID"
        if row["status"] in ("SENT", "VIEWED") and row["due_date"]:
            assert row["due_date"] >= TODAY or row["paid_status"] == "PAID"
    for payment in payments:
        if payment["invoice_id"] is not None:
            assert payment["customer_id"] == by_id[payment["invoice_id"]]["customer_id"]
            assert payment["payment_date"] >= by_id[payment["invoice_id"]]["invoice_date"]
    assert {row["status"] for row in invoices} >= {"DRAFT", "OVERDUE", "COMPLETED"}
    converted = [e for e in fetch_all(client, "/estimates") if e["invoice_id"] is not None]
    assert converted
    for estimate in converted:
        assert estimate["status"] == "ACCEPTED"
        assert by_id[estimate["invoice_id"]]["estimate_id"] == estimate["id"]


def test_the_report_adds_up_from_the_records(client: FlaskClient) -> None:
    report = data_of(client.get(f"{API}/reports/financial?year=2026", headers=auth()))
    payments = [p for p in fetch_all(client, "/payments") if p["payment_date"].startswith("2026")]
    expenses = [e for e in fetch_all(client, "/expenses") if e["expense_date"].startswith("2026")]
    open_invoices = [
        i for i in fetch_all(client, "/invoices") if i["invoice_date"].startswith("2026") and i["status"] != "DRAFT"
    ]
    ledger = [t for t in fetch_all(client, "/transactions") if t["date"].startswith("2026")]
    income = sum(p["amount"] for p in payments) + sum(t["amount"] for t in ledger if t["type"] == "INCOME")
    spent = sum(e["amount"] for e in expenses) + sum(t["amount"] for t in ledger if t["type"] == "EXPENSE")
    assert ledger
    assert report["income"] == income
    assert report["expenses"] == spent
    assert report["profit"] == report["income"] - report["expenses"]
    assert report["outstanding"] == sum(i["due_amount"] for i in open_invoices)
