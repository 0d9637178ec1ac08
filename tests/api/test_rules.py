"""Business rules: batch all-or-nothing, write-only secrets, PDFs, totals, payments and delete guards."""

from __future__ import annotations

import io
from typing import Any

import pytest
from conftest import API, GLOBEX_FULL, auth
from flask.testing import FlaskClient
from pypdf import PdfReader

from api.support import create, data_of, estimate_body, expect_error, fetch, fetch_all, invoice_body, line


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_a_batch_of_valid_customers_is_created_in_order(client: FlaskClient) -> None:
    rows = [{"name": "Ann Batch", "email": "ann@example.com"}, {"name": "Bob Batch"}, {"name": "Cy Batch"}]
    response = client.post(f"{API}/batch/customers", json={"customers": rows}, headers=auth())
    created = data_of(response, 201)
    assert [c["name"] for c in created] == ["Ann Batch", "Bob Batch", "Cy Batch"]
    assert len({c["id"] for c in created}) == 3
    for customer in created:
        assert fetch(client, f"/customers/{customer['id']}") == customer


@pytest.mark.parametrize(
    ("bad_row", "key"),
    [
        ({"name": "Dee", "email": "not-an-email"}, "customers.1.email"),
        ({"email": "nameless@example.com"}, "customers.1.name"),
        ({"name": "Dee", "currency_id": 999}, "customers.1.currency_id"),
        ({"name": "Dee", "id": 5}, "customers.1.id"),
        ({"name": "Dee", "shoe_size": 44}, "customers.1.shoe_size"),
    ],
)
def test_one_bad_row_fails_the_whole_batch_and_creates_nothing(
    client: FlaskClient, bad_row: dict[str, Any], key: str
) -> None:
    before = fetch_all(client, "/customers")
    rows = [{"name": "Good One"}, bad_row, {"name": "Good Two"}]
    response = client.post(f"{API}/batch/customers", json={"customers": rows}, headers=auth())
    assert list(expect_error(response, 422, "validation_failed")["errors"]) == [key]
    assert fetch_all(client, "/customers") == before


def test_batch_errors_name_every_bad_row(client: FlaskClient) -> None:
    rows = [{"name": ""}, {"name": "Fine"}, {"name": "X", "website": "ftp://old"}]
    errors = expect_error(
        client.post(f"{API}/batch/customers", json={"customers": rows}, headers=auth()),
        422,
        "validation_failed",
    )["errors"]
    assert set(errors) == {"customers.0.name", "customers.2.website"}


@pytest.mark.parametrize("count", [0, 101])
def test_a_batch_holds_1_to_100_customers(client: FlaskClient, count: int) -> None:
    rows = [{"name": f"Customer {n}"} for n in range(count)]
    response = client.post(f"{API}/batch/customers", json={"customers": rows}, headers=auth())
    assert list(expect_error(response, 422, "validation_failed")["errors"]) == ["customers"]


def test_a_new_webhook_shows_its_generated_secret_once(client: FlaskClient) -> None:
    created = create(client, "/webhooks", {"url": "http://127.0.0.1:9/new", "events": ["invoice.paid"]})
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) >= 16
    path = f"/webhooks/{created['id']}"
    for response in (
        client.get(f"{API}{path}", headers=auth()),
        client.get(f"{API}/webhooks", headers=auth()),
        client.patch(f"{API}{path}", json={"active": False}, headers=auth()),
        client.put(
            f"{API}{path}",
            json={"url": "http://127.0.0.1:9/v2", "events": ["invoice.sent"]},
            headers=auth(),
        ),
    ):
        assert response.status_code == 200
        assert created["secret"] not in response.get_data(as_text=True)
        assert '"secret"' not in response.get_data(as_text=True)


def test_a_chosen_webhook_secret_is_kept_and_never_shown_again(client: FlaskClient) -> None:
    secret = "my-own-signing-secret-42"
    created = create(
        client,
        "/webhooks",
        {"url": "http://127.0.0.1:9/s", "events": ["payment.received"], "secret": secret},
    )
    assert created["secret"] == secret
    assert "secret" not in fetch(client, f"/webhooks/{created['id']}")
    listed = fetch_all(client, "/webhooks")  # a list hides it too (records with writeOnly fields are decoded)
    assert created["id"] in [webhook["id"] for webhook in listed]
    assert not [webhook for webhook in listed if "secret" in webhook]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://hooks.example.com", "events": ["invoice.paid"]},
        {"url": "http://127.0.0.1:9", "events": []},
        {"url": "http://127.0.0.1:9", "events": ["invoice.exploded"]},
        {"url": "http://127.0.0.1:9", "events": ["invoice.paid", "invoice.paid"]},
        {"url": "http://127.0.0.1:9", "events": ["invoice.paid"], "secret": "short"},
    ],
)
def test_an_invalid_webhook_is_422(client: FlaskClient, body: dict[str, Any]) -> None:
    expect_error(client.post(f"{API}/webhooks", json=body, headers=auth()), 422, "validation_failed")


def test_a_user_password_is_never_returned(client: FlaskClient) -> None:
    password = "correct-horse-battery"
    body = {"name": "Pat Secret", "email": "pat@acme.example.com", "role": "viewer", "password": password}
    created = create(client, "/users", body)
    path = f"/users/{created['id']}"
    responses = [
        client.get(f"{API}{path}", headers=auth()),
        client.get(f"{API}/users?limit=100", headers=auth()),
        client.get(f"{API}/users?search=pat", headers=auth()),
        client.patch(f"{API}{path}", json={"password": "another-long-secret"}, headers=auth()),
        client.put(f"{API}{path}", json=body, headers=auth()),
    ]
    assert "password" not in created
    for response in responses:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "password" not in text
        assert password not in text
        assert "another-long-secret" not in text


def test_users_are_searched_by_name_and_email_but_never_by_password(client: FlaskClient) -> None:
    create(
        client,
        "/users",
        {"name": "Quinn", "email": "quinn@acme.example.com", "role": "viewer", "password": "zq-unique-pass"},
    )
    assert fetch_all(client, "/users", search="zq-unique") == []


@pytest.mark.parametrize("email", ["admin@acme.example.com", "dupe@acme.example.com"], ids=["seeded", "created"])
def test_a_duplicate_user_email_is_422(client: FlaskClient, email: str) -> None:
    body = {"name": "Twin", "email": email, "role": "viewer"}
    if email.startswith("dupe"):
        create(client, "/users", body)
    errors = expect_error(client.post(f"{API}/users", json=body, headers=auth()), 422, "validation_failed")["errors"]
    assert list(errors) == ["email"]


@pytest.mark.parametrize(("kind", "number"), [("invoices", "INV-000001"), ("estimates", "EST-000001")])
def test_a_pdf_is_a_real_document_with_the_number_customer_and_lines(
    client: FlaskClient, kind: str, number: str
) -> None:
    response = client.get(f"{API}/{kind}/1/pdf", headers=auth())
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert number in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    record = fetch(client, f"/{kind}/1")
    customer = fetch(client, f"/customers/{record['customer_id']}")
    assert number in text
    assert customer["name"] in text
    for item in record["items"]:
        assert item["name"] in text
    assert "Acme Corp" in text


def test_a_new_invoice_pdf_shows_its_generated_number_and_totals(client: FlaskClient) -> None:
    invoice = create(client, "/invoices", invoice_body(items=[line("Zoë's café design", 1, 123456)]))
    text = pdf_text(client.get(f"{API}/invoices/{invoice['id']}/pdf", headers=auth()).data)
    assert invoice["invoice_number"] in text
    assert "1,234.56" in text


def test_a_pdf_of_an_absent_invoice_is_a_json_404(client: FlaskClient) -> None:
    expect_error(client.get(f"{API}/invoices/9999/pdf", headers=auth()), 404, "not_found")


def test_a_globex_pdf_shows_globex(client: FlaskClient) -> None:
    response = client.get(f"{API}/invoices/2/pdf", headers=auth(GLOBEX_FULL))
    assert "Globex Ltd" in pdf_text(response.data)


@pytest.mark.parametrize(
    ("items", "discount", "expected"),
    [
        ([line(quantity=2, price=15000)], {}, (30000, 0, 0, 30000)),
        ([line(quantity=1.5, price=333)], {}, (500, 0, 0, 500)),
        ([line(quantity=1, price=1000, tax_rate=7.5)], {}, (1000, 0, 75, 1075)),
        ([line(quantity=1, price=1005, tax_rate=10)], {}, (1005, 0, 101, 1106)),
        ([line(quantity=3, price=1000), line(quantity=1, price=500, tax_rate=20)], {}, (3500, 0, 100, 3600)),
        (
            [line(quantity=1, price=10000)],
            {"discount_type": "fixed", "discount": 2500},
            (10000, 2500, 0, 7500),
        ),
        ([line(quantity=1, price=999)], {"discount_type": "percentage", "discount": 50}, (999, 500, 0, 499)),
    ],
)
def test_totals_are_computed_by_the_server_with_half_up_rounding(
    client: FlaskClient,
    items: list[dict[str, Any]],
    discount: dict[str, Any],
    expected: tuple[int, int, int, int],
) -> None:
    for kind, body in (("/invoices", invoice_body), ("/estimates", estimate_body)):
        created = create(client, kind, body(items=items, **discount))
        assert (created["sub_total"], created["discount_val"], created["tax"], created["total"]) == expected


def test_a_discount_above_the_sub_total_is_422(client: FlaskClient) -> None:
    body = invoice_body(items=[line(quantity=1, price=100)], discount=150)
    assert list(
        expect_error(client.post(f"{API}/invoices", json=body, headers=auth()), 422, "validation_failed")["errors"]
    ) == ["discount"]
    body = invoice_body(discount_type="percentage", discount=101)
    assert (
        "discount"
        in expect_error(client.post(f"{API}/invoices", json=body, headers=auth()), 422, "validation_failed")["errors"]
    )


def test_editing_the_lines_recomputes_the_totals(client: FlaskClient) -> None:
    invoice = create(client, "/invoices", invoice_body())
    patched = data_of(
        client.patch(f"{API}/invoices/{invoice['id']}", json={"items": [line(quantity=4, price=2500)]}, headers=auth())
    )
    assert (patched["sub_total"], patched["total"], patched["due_amount"]) == (10000, 10000, 10000)


def test_a_generated_number_follows_the_sequence_and_a_chosen_one_is_kept(client: FlaskClient) -> None:
    first = create(client, "/invoices", invoice_body())
    second = create(client, "/invoices", invoice_body())
    assert int(second["invoice_number"][4:]) > int(first["invoice_number"][4:])
    chosen = create(client, "/invoices", invoice_body(invoice_number="INV-0099999"))
    assert chosen["invoice_number"] == "INV-0099999"
    replaced = data_of(client.put(f"{API}/invoices/{first['id']}", json=invoice_body(), headers=auth()))
    assert replaced["invoice_number"] == first["invoice_number"]


def test_a_payment_cannot_exceed_what_the_invoice_still_owes(client: FlaskClient) -> None:
    invoice = create(client, "/invoices", invoice_body())
    payment = {"payment_date": "2026-06-10", "amount": 30001, "customer_id": 1, "invoice_id": invoice["id"]}
    errors = expect_error(client.post(f"{API}/payments", json=payment, headers=auth()), 422, "validation_failed")[
        "errors"
    ]
    assert list(errors) == ["amount"]
    created = create(client, "/payments", {**payment, "amount": 30000})
    assert fetch(client, f"/invoices/{invoice['id']}")["paid_status"] == "PAID"
    patched = data_of(client.patch(f"{API}/payments/{created['id']}", json={"amount": 29000}, headers=auth()))
    assert patched["amount"] == 29000
    reopened = fetch(client, f"/invoices/{invoice['id']}")
    assert (reopened["paid_status"], reopened["due_amount"]) == ("PARTIALLY_PAID", 1000)


def test_a_payment_is_for_the_invoices_customer(client: FlaskClient) -> None:
    invoice = create(client, "/invoices", invoice_body(customer_id=2))
    payment = {"payment_date": "2026-06-10", "amount": 100, "customer_id": 1, "invoice_id": invoice["id"]}
    errors = expect_error(client.post(f"{API}/payments", json=payment, headers=auth()), 422, "validation_failed")[
        "errors"
    ]
    assert list(errors) == ["customer_id"]


@pytest.mark.parametrize("amount", [0, -5])
def test_a_payment_amount_is_positive(client: FlaskClient, amount: int) -> None:
    payment = {"payment_date": "2026-06-10", "amount": amount, "customer_id": 1}
    assert list(
        expect_error(client.post(f"{API}/payments", json=payment, headers=auth()), 422, "validation_failed")["errors"]
    ) == ["amount"]


@pytest.mark.parametrize("dependent", ["/invoices", "/estimates", "/payments"])
def test_a_customer_with_documents_cannot_be_deleted(client: FlaskClient, dependent: str) -> None:
    customer = create(client, "/customers", {"name": "Busy Customer"})
    bodies = {
        "/invoices": invoice_body(customer_id=customer["id"]),
        "/estimates": estimate_body(customer_id=customer["id"]),
        "/payments": {"payment_date": "2026-06-10", "amount": 100, "customer_id": customer["id"]},
    }
    document = create(client, dependent, bodies[dependent])
    message = expect_error(client.delete(f"{API}/customers/{customer['id']}", headers=auth()), 409, "conflict")[
        "message"
    ]
    assert dependent.strip("/") in message
    assert fetch(client, f"/customers/{customer['id']}") == customer
    assert client.delete(f"{API}{dependent}/{document['id']}", headers=auth()).status_code == 204
    assert client.delete(f"{API}/customers/{customer['id']}", headers=auth()).status_code == 204


def test_the_financial_report_sums_payments_and_expenses_of_the_period(client: FlaskClient) -> None:
    report = fetch(client, "/reports/financial?year=2026&month=6")
    create(client, "/payments", {"payment_date": "2026-06-12", "amount": 7000, "customer_id": 1})
    create(
        client,
        "/expenses",
        {"expense_date": "2026-06-13", "expense_category_id": 1, "amount": 2500, "currency_id": 1},
    )
    create(
        client,
        "/expenses",
        {"expense_date": "2026-07-01", "expense_category_id": 1, "amount": 999, "currency_id": 1},
    )
    after = fetch(client, "/reports/financial?year=2026&month=6")
    assert after["income"] == report["income"] + 7000
    assert after["expenses"] == report["expenses"] + 2500
    assert after["profit"] == after["income"] - after["expenses"]
    assert after["period"] == {"year": 2026, "month": 6, "from": "2026-06-01", "to": "2026-06-30"}
