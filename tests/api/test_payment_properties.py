"""Property: whatever payments a client attempts, an invoice's books stay consistent."""

from __future__ import annotations

from conftest import API, TODAY, auth
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.api.support import create, data_of, fetch

attempts = st.lists(
    st.tuples(st.sampled_from(["pay", "refund"]), st.integers(min_value=1, max_value=30_000)),
    min_size=1,
    max_size=12,
)


@settings(derandomize=True, database=None, deadline=None, max_examples=40)
@given(steps=attempts, quantity=st.integers(min_value=1, max_value=5), price=st.integers(min_value=1, max_value=9_999))
def test_due_amount_is_never_negative_and_payments_never_exceed_the_total(
    shared_app: Flask, steps: list[tuple[str, int]], quantity: int, price: int
) -> None:
    shared_app.extensions["sandbox"]["engine"].reset()
    client = shared_app.test_client()
    body = {
        "customer_id": 1,
        "invoice_date": "2026-06-01",
        "items": [{"name": "x", "quantity": quantity, "price": price}],
    }
    invoice = create(client, "/invoices", body)
    data_of(client.post(f"{API}/invoices/{invoice['id']}/send", headers=auth()))
    payments: list[dict[str, int]] = []
    for action, amount in steps:
        if action == "pay":
            payment = {"customer_id": 1, "invoice_id": invoice["id"], "amount": amount, "payment_date": TODAY}
            response = client.post(f"{API}/payments", json=payment, headers=auth())
            assert response.status_code in (201, 422)
            if response.status_code == 201:
                payments.append(response.get_json()["data"])
        elif payments:
            gone = payments.pop(amount % len(payments))
            assert client.delete(f"{API}/payments/{gone['id']}", headers=auth()).status_code == 204
        current = fetch(client, f"/invoices/{invoice['id']}")
        paid = sum(p["amount"] for p in payments)
        assert 0 <= current["due_amount"] == current["total"] - paid
        assert paid <= current["total"]
        expected = "PAID" if paid == current["total"] else ("UNPAID" if paid == 0 else "PARTIALLY_PAID")
        assert current["paid_status"] == expected
        assert (current["status"] == "COMPLETED") == (expected == "PAID")
