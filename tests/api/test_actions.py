"""Actions: the spec's state transitions (x-sandbox-transition), mark-paid, and the two conversions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest import API, TODAY, auth
from flask.testing import FlaskClient

from api.support import create, data_of, estimate_body, expect_error, fetch, fetch_all, invoice_body, line
from mockserver.store.sql import SqlTenant


def act(client: FlaskClient, path: str, status: int = 200) -> dict[str, Any]:
    """POST an action and return the record it answers with."""
    record: dict[str, Any] = data_of(client.post(f"{API}{path}", headers=auth()), status)
    return record


def conflict(client: FlaskClient, path: str) -> str:
    """POST an action that the record's state forbids; return the 409 message."""
    message: str = expect_error(client.post(f"{API}{path}", headers=auth()), 409, "conflict")["message"]
    return message


def draft_invoice(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    return create(client, "/invoices", invoice_body(**overrides))


def test_sending_a_draft_invoice_makes_it_sent_and_stamps_sent_at(client: FlaskClient) -> None:
    invoice = draft_invoice(client)
    assert (invoice["status"], invoice["sent_at"]) == ("DRAFT", None)
    sent = act(client, f"/invoices/{invoice['id']}/send")
    assert sent["status"] == "SENT"
    assert sent["sent_at"].startswith(TODAY)
    assert {k: v for k, v in sent.items() if k not in ("status", "sent_at", "updated_at")} == {
        k: v for k, v in invoice.items() if k not in ("status", "sent_at", "updated_at")
    }
    assert fetch(client, f"/invoices/{invoice['id']}") == sent


def test_sending_twice_is_409_naming_the_current_status(client: FlaskClient) -> None:
    invoice = draft_invoice(client)
    act(client, f"/invoices/{invoice['id']}/send")
    message = conflict(client, f"/invoices/{invoice['id']}/send")
    assert "SENT" in message
    assert fetch(client, f"/invoices/{invoice['id']}")["status"] == "SENT"


def test_a_completed_invoice_cannot_be_sent(client: FlaskClient) -> None:
    invoice = draft_invoice(client)
    act(client, f"/invoices/{invoice['id']}/complete")
    assert "COMPLETED" in conflict(client, f"/invoices/{invoice['id']}/send")


@pytest.mark.parametrize("send_first", [False, True], ids=["from-draft", "from-sent"])
def test_complete_then_uncomplete_toggles_completed(client: FlaskClient, send_first: bool) -> None:
    invoice = draft_invoice(client)
    path = f"/invoices/{invoice['id']}"
    if send_first:
        act(client, f"{path}/send")
    completed = act(client, f"{path}/complete")
    assert completed["status"] == "COMPLETED"
    assert completed["paid_status"] == "UNPAID"
    assert "COMPLETED" in conflict(client, f"{path}/complete")
    assert act(client, f"{path}/uncomplete")["status"] == "SENT"
    assert "SENT" in conflict(client, f"{path}/uncomplete")


def test_uncomplete_is_409_for_a_draft(client: FlaskClient) -> None:
    invoice = draft_invoice(client)
    assert "DRAFT" in conflict(client, f"/invoices/{invoice['id']}/uncomplete")


def test_mark_paid_records_a_payment_for_the_due_amount(client: FlaskClient) -> None:
    invoice = draft_invoice(client, items=[line(quantity=3, price=10000, tax_rate=10)])
    act(client, f"/invoices/{invoice['id']}/send")
    paid = act(client, f"/invoices/{invoice['id']}/mark-paid")
    assert (paid["paid_status"], paid["due_amount"], paid["status"]) == ("PAID", 0, "COMPLETED")
    assert paid["total"] == 33000
    assert paid["paid_at"].startswith(TODAY)
    payments = fetch_all(client, "/payments", invoice_id=invoice["id"])
    assert len(payments) == 1
    assert (payments[0]["amount"], payments[0]["customer_id"], payments[0]["payment_date"]) == (
        33000,
        1,
        TODAY,
    )
    assert fetch(client, f"/invoices/{invoice['id']}") == paid


def test_mark_paid_pays_only_what_is_still_due(client: FlaskClient) -> None:
    invoice = draft_invoice(client)
    act(client, f"/invoices/{invoice['id']}/send")
    part = {"payment_date": "2026-06-10", "amount": 10000, "customer_id": 1, "invoice_id": invoice["id"]}
    create(client, "/payments", part)
    partly = fetch(client, f"/invoices/{invoice['id']}")
    assert (partly["paid_status"], partly["due_amount"], partly["paid_at"]) == ("PARTIALLY_PAID", 20000, None)
    paid = act(client, f"/invoices/{invoice['id']}/mark-paid")
    assert paid["due_amount"] == 0
    amounts = sorted(p["amount"] for p in fetch_all(client, "/payments", invoice_id=invoice["id"]))
    assert amounts == [10000, 20000]


def test_mark_paid_refuses_a_due_amount_no_single_payment_can_hold(client: FlaskClient) -> None:
    invoice = draft_invoice(client, items=[line(quantity=2000, price=100_000_000, tax_rate=0)])
    assert invoice["due_amount"] > 100_000_000_000  # the largest payment amount the spec allows
    response = client.post(f"{API}/invoices/{invoice['id']}/mark-paid", headers=auth())
    body = expect_error(response, 422, "validation_failed")
    assert "due_amount" in body["errors"]
    assert fetch_all(client, "/payments", invoice_id=invoice["id"]) == []


def test_marking_a_paid_invoice_paid_again_is_409(client: FlaskClient) -> None:
    invoice = draft_invoice(client)
    act(client, f"/invoices/{invoice['id']}/mark-paid")
    payments = len(fetch_all(client, "/payments"))
    assert "paid" in conflict(client, f"/invoices/{invoice['id']}/mark-paid").lower()
    assert len(fetch_all(client, "/payments")) == payments


def test_a_draft_invoice_paid_in_full_stays_draft(client: FlaskClient) -> None:
    paid = act(client, f"/invoices/{draft_invoice(client)['id']}/mark-paid")
    assert (paid["status"], paid["paid_status"]) == ("DRAFT", "PAID")


def test_deleting_the_payment_reopens_the_invoice(client: FlaskClient) -> None:
    invoice = draft_invoice(client)
    act(client, f"/invoices/{invoice['id']}/mark-paid")
    expect_error(client.delete(f"{API}/invoices/{invoice['id']}", headers=auth()), 409, "conflict")
    (payment,) = fetch_all(client, "/payments", invoice_id=invoice["id"])
    assert client.delete(f"{API}/payments/{payment['id']}", headers=auth()).status_code == 204
    reopened = fetch(client, f"/invoices/{invoice['id']}")
    assert (reopened["paid_status"], reopened["due_amount"], reopened["paid_at"]) == ("UNPAID", 30000, None)
    assert client.delete(f"{API}/invoices/{invoice['id']}", headers=auth()).status_code == 204


def test_estimate_send_then_accept(client: FlaskClient) -> None:
    estimate = create(client, "/estimates", estimate_body())
    path = f"/estimates/{estimate['id']}"
    assert "DRAFT" in conflict(client, f"{path}/accept")
    sent = act(client, f"{path}/send")
    assert sent["status"] == "SENT"
    assert sent["sent_at"].startswith(TODAY)
    assert "SENT" in conflict(client, f"{path}/send")
    assert act(client, f"{path}/accept")["status"] == "ACCEPTED"
    assert "ACCEPTED" in conflict(client, f"{path}/accept")
    assert "ACCEPTED" in conflict(client, f"{path}/reject")


def test_estimate_send_then_reject(client: FlaskClient) -> None:
    estimate = create(client, "/estimates", estimate_body())
    path = f"/estimates/{estimate['id']}"
    assert "DRAFT" in conflict(client, f"{path}/reject")
    act(client, f"{path}/send")
    assert act(client, f"{path}/reject")["status"] == "REJECTED"
    assert "REJECTED" in conflict(client, f"{path}/accept")
    assert "REJECTED" in conflict(client, f"{path}/convert")


@pytest.mark.parametrize("send_first", [False, True], ids=["draft", "sent"])
def test_converting_an_estimate_creates_a_draft_invoice_with_its_lines(client: FlaskClient, send_first: bool) -> None:
    lines = [line("Design", 1.5, 12000, tax_rate=20, description="UI"), line("Build", 10, 9500)]
    body = estimate_body(
        customer_id=2, currency_id=3, discount_type="percentage", discount=10, notes="Thanks", items=lines
    )
    estimate = create(client, "/estimates", body)
    if send_first:
        act(client, f"/estimates/{estimate['id']}/send")
    invoice = act(client, f"/estimates/{estimate['id']}/convert", 201)
    expected_due = (dt.date.fromisoformat(TODAY) + dt.timedelta(days=30)).isoformat()
    assert (invoice["status"], invoice["invoice_date"], invoice["due_date"]) == ("DRAFT", TODAY, expected_due)
    assert invoice["estimate_id"] == estimate["id"]
    for name in ("customer_id", "currency_id", "discount_type", "discount", "notes"):
        assert invoice[name] == estimate[name]
    for name in ("sub_total", "discount_val", "tax", "total"):
        assert invoice[name] == estimate[name]
    # the same lines, numbered among the invoices' lines (line ids are unique per resource and company)
    assert [{k: v for k, v in i.items() if k != "id"} for i in invoice["items"]] == [
        {k: v for k, v in i.items() if k != "id"} for i in estimate["items"]
    ]
    assert invoice["due_amount"] == invoice["total"]
    converted = fetch(client, f"/estimates/{estimate['id']}")
    assert (converted["status"], converted["invoice_id"]) == ("ACCEPTED", invoice["id"])
    assert fetch(client, f"/invoices/{invoice['id']}") == invoice


def test_converting_twice_is_409_and_creates_nothing(client: FlaskClient) -> None:
    estimate = create(client, "/estimates", estimate_body())
    invoice = act(client, f"/estimates/{estimate['id']}/convert", 201)
    count = len(fetch_all(client, "/invoices"))
    assert str(invoice["id"]) in conflict(client, f"/estimates/{estimate['id']}/convert")
    assert len(fetch_all(client, "/invoices")) == count


def test_converting_a_lead_creates_a_customer_and_marks_the_lead(client: FlaskClient) -> None:
    lead = create(
        client,
        "/leads",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@engines.example",
            "phone": "+44 20 7946 0101",
            "company": "Analytical Engines Ltd",
            "status": "QUALIFIED",
        },
    )
    customer = act(client, f"/leads/{lead['id']}/convert", 201)
    assert {k: customer[k] for k in ("name", "email", "phone", "company_name", "company_id")} == {
        "name": "Ada Lovelace",
        "email": "ada@engines.example",
        "phone": "+44 20 7946 0101",
        "company_name": "Analytical Engines Ltd",
        "company_id": 1,
    }
    assert fetch(client, f"/customers/{customer['id']}") == customer
    converted = fetch(client, f"/leads/{lead['id']}")
    assert (converted["status"], converted["customer_id"]) == ("CONVERTED", customer["id"])
    count = len(fetch_all(client, "/customers"))
    assert "converted" in conflict(client, f"/leads/{lead['id']}/convert").lower()
    assert len(fetch_all(client, "/customers")) == count


def test_a_lost_lead_cannot_be_converted(client: FlaskClient) -> None:
    lead = create(client, "/leads", {"first_name": "Lost", "last_name": "Cause", "status": "LOST"})
    count = len(fetch_all(client, "/customers"))
    assert "LOST" in conflict(client, f"/leads/{lead['id']}/convert")
    assert len(fetch_all(client, "/customers")) == count
    assert fetch(client, f"/leads/{lead['id']}")["status"] == "LOST"


@pytest.mark.parametrize(
    "path",
    [
        "/invoices/9999/send",
        "/invoices/9999/mark-paid",
        "/estimates/9999/convert",
        "/leads/9999/convert",
        "/webhooks/9999/test",
    ],
)
def test_an_action_on_an_absent_record_is_404(client: FlaskClient, path: str) -> None:
    expect_error(client.post(f"{API}{path}", headers=auth()), 404, "not_found")


@pytest.mark.parametrize(("resource", "body"), [("invoices", invoice_body), ("estimates", estimate_body)])
def test_sending_writes_the_document_once(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, resource: str, body: Any
) -> None:
    document = create(client, f"/{resource}", body())
    writes: list[str] = []
    original = SqlTenant.put

    def counted(self: SqlTenant, name: str, record_id: Any, record: Any) -> Any:
        writes.append(name)
        return original(self, name, record_id, record)

    monkeypatch.setattr(SqlTenant, "put", counted)
    sent = client.post(f"{API}/{resource}/{document['id']}/send", headers=auth())
    assert data_of(sent, 200)["sent_at"]
    assert writes.count(resource) == 1
