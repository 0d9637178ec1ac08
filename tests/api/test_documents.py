"""Invoice and estimate PDFs read like business documents: figures in the document's currency, Unicode text."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal
from typing import Any

import pytest
from conftest import API, auth
from flask.testing import FlaskClient
from pypdf import PdfReader

from api.support import create, estimate_body, fetch, invoice_body, line
from mockserver.app import create_app
from mockserver.settings import Settings

JPY, EUR = 6, 2  # currency ids in domains/invoicing/reference.yaml

CUSTOMER = {
    "name": "Łukasz Żółkiewski",
    "company_name": "Ωμέγα Τεχνική",
    "contact_name": "Дмитрий Смирнов",
    "email": "billing@omega.example",
    "billing": {
        "address_street_1": "ул. Тверская, 7",
        "address_street_2": "Office 12",
        "city": "Łódź",
        "zip": "90-001",
        "country": "PL",
    },
}


def pdf_bytes(client: FlaskClient, path: str) -> bytes:
    response = client.get(f"{API}{path}/pdf", headers=auth())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    return response.data


def pdf_text(data: bytes) -> str:
    """The document's text with every run of spacing (a no-break space too) as one space."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return "\n".join(" ".join(row.split()) for row in text.splitlines())


def font_names(data: bytes) -> set[str]:
    names: set[str] = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        fonts: Any = page["/Resources"]["/Font"]
        names |= {str(fonts[key].get_object()["/BaseFont"]) for key in fonts}
    return names


def new_invoice(client: FlaskClient, currency_id: int, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    customer = create(client, "/customers", CUSTOMER)
    return create(
        client, "/invoices", invoice_body(customer_id=customer["id"], currency_id=currency_id, items=items, **extra)
    )


def test_a_yen_invoice_prints_whole_yen_not_hundredths(client: FlaskClient) -> None:
    invoice = new_invoice(client, JPY, [line("Tatami mats", 2, 18900, tax_rate=10)])
    assert invoice["total"] == 41580
    text = pdf_text(pdf_bytes(client, f"/invoices/{invoice['id']}"))
    assert "¥18,900" in text  # unit price
    assert "¥37,800" in text  # line amount and sub total
    assert "Tax ¥3,780" in text
    assert "Total ¥41,580" in text
    assert "Amount due ¥41,580" in text
    assert "415.80" not in text
    assert "JPY, Japanese Yen" in text


def test_a_euro_invoice_prints_cents_a_percentage_discount_and_what_was_paid(client: FlaskClient) -> None:
    invoice = new_invoice(
        client, EUR, [line("Design", 1.5, 82304, tax_rate=20)], discount_type="percentage", discount=10
    )
    assert (invoice["sub_total"], invoice["discount_val"], invoice["tax"]) == (123456, 12346, 24691)
    client.post(f"{API}/invoices/{invoice['id']}/send", headers=auth())
    paid = {"invoice_id": invoice["id"], "customer_id": invoice["customer_id"], "amount": 10000}
    create(client, "/payments", {**paid, "payment_date": "2026-06-02", "payment_method_id": 1})
    text = pdf_text(pdf_bytes(client, f"/invoices/{invoice['id']}"))
    assert "1.5 €823.04 20% €1,234.56" in text
    assert "Subtotal €1,234.56" in text
    assert "Discount (10%) -€123.46" in text
    assert "Tax €246.91" in text
    assert "Total €1,358.01" in text
    assert "Paid -€100.00" in text
    assert "Amount due €1,258.01" in text


def test_unicode_names_addresses_descriptions_and_notes_print_as_written(client: FlaskClient) -> None:
    notes = "Zahlbar innerhalb von 30 Tagen. Спасибо! Ευχαριστούμε. Total in € only."
    items = [line("Consulting", 2, 15000, description="Workshop in Kraków, Ωmega team")]
    invoice = new_invoice(client, EUR, items, notes=notes, reference_number="PO-Ł-77")
    data = pdf_bytes(client, f"/invoices/{invoice['id']}")
    text = pdf_text(data)
    for expected in (
        "Acme Corp",
        "123 Main St",
        "New York, NY 10001",
        "United States",
        "Phone +1 555-0100",
        "Łukasz Żółkiewski",
        "Ωμέγα Τεχνική",
        "Attn. Дмитрий Смирнов",
        "ул. Тверская, 7",
        "Office 12",
        "Łódź, 90-001",
        "Poland",
        "billing@omega.example",
        "Workshop in Kraków, Ωmega team",
        notes,
        "Reference PO-Ł-77",
        f"Invoice number {invoice['invoice_number']}",
        "Invoice date Jun 1, 2026",
        "Due date Jul 1, 2026",
    ):
        assert expected in text, expected
    assert "?" not in text
    assert all("NotoSans" in name for name in font_names(data)), font_names(data)


@pytest.mark.parametrize("status", ["DRAFT", "OVERDUE"])
def test_the_customers_copy_shows_no_internal_status(client: FlaskClient, status: str) -> None:
    body = {"invoice_date": "2026-01-01", "due_date": "2026-02-01"} if status == "OVERDUE" else {}
    invoice = new_invoice(client, EUR, [line()], **body)
    if status == "OVERDUE":
        client.post(f"{API}/invoices/{invoice['id']}/send", headers=auth())
    assert fetch(client, f"/invoices/{invoice['id']}")["status"] == status
    text = pdf_text(pdf_bytes(client, f"/invoices/{invoice['id']}"))
    assert status not in text.upper()
    assert "STATUS" not in text.upper()
    assert "Amount due €300.00" in text


def test_an_estimate_pdf_is_a_quote_with_its_validity_and_no_status(client: FlaskClient) -> None:
    customer = create(client, "/customers", CUSTOMER)
    items = [line("Audit", 3, 12345, tax_rate=5, description="Three days, on site")]
    estimate = create(client, "/estimates", estimate_body(customer_id=customer["id"], currency_id=JPY, items=items))
    text = pdf_text(pdf_bytes(client, f"/estimates/{estimate['id']}"))
    for expected in (
        f"Estimate number {estimate['estimate_number']}",
        "Estimate date Jun 1, 2026",
        "Valid until Jul 1, 2026",
        "PREPARED FOR",
        "Łukasz Żółkiewski",
        "Three days, on site",
        "3 ¥12,345 5% ¥37,035",
        "Tax ¥1,852",
        "Total ¥38,887",
    ):
        assert expected in text, expected
    assert "Amount due" not in text
    assert estimate["status"] not in text.upper()


def test_the_longest_and_oddest_text_the_spec_allows_still_prints(client: FlaskClient) -> None:
    odd = "😀 مرحبا שלום \u200f\u0301 Ok"
    items = [
        line("W" * 255, 999999.5, 100000, tax_rate=99.5, description="line\n" * 400),
        line(odd, 1, 1, description="D" * 2000),
    ]
    customer = create(client, "/customers", {"name": "N" * 255, "company_name": odd, "notes": "x"})
    invoice = create(
        client, "/invoices", invoice_body(customer_id=customer["id"], currency_id=EUR, items=items, notes="n " * 2500)
    )
    data = pdf_bytes(client, f"/invoices/{invoice['id']}")
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) > 2
    last = " ".join(pages[-1].extract_text().split())
    assert f"Amount due €{Decimal(invoice['due_amount']).scaleb(-2):,.2f}" in last
    assert "Ok" in pdf_text(data)


@pytest.mark.parametrize(
    ("quantity", "tax_rate"),
    [(5e-324, 0), (1e-200, 0), (1, 1e-300), (0.1 + 0.2, 33.333333333333336), (999999.9999999999, 99.99999999999999)],
)
def test_a_quantity_or_tax_rate_with_hundreds_of_decimals_prints_in_its_narrow_column(
    client: FlaskClient, quantity: float, tax_rate: float
) -> None:
    """A fuzzer sends 5e-324: written out in full it is 324 digits, far taller than a page in an 18 mm column."""
    invoice = new_invoice(client, EUR, [line("Tiny", quantity, 100, tax_rate=tax_rate)])
    assert "Tiny" in pdf_text(pdf_bytes(client, f"/invoices/{invoice['id']}"))


def test_a_pdf_rendered_in_the_helper_process_reads_as_one_rendered_inline(
    client: FlaskClient, strict_settings: Settings
) -> None:
    notes = "Спасибо! Ευχαριστούμε. Zahlbar in € innerhalb von 30 Tagen."
    invoice = new_invoice(client, EUR, [line("Workshop in Kraków", 2, 15000)], notes=notes)
    helped = create_app(dataclasses.replace(strict_settings, helper_process=True))  # as a served worker renders
    try:
        assert helped.extensions["sandbox"]["engine"].offload.in_helper
        helped_client = helped.test_client()
        copy = new_invoice(helped_client, EUR, [line("Workshop in Kraków", 2, 15000)], notes=notes)
        assert copy["invoice_number"] == invoice["invoice_number"]  # same seed, same first new invoice
        inline, elsewhere = (
            pdf_bytes(client, f"/invoices/{invoice['id']}"),
            pdf_bytes(helped_client, f"/invoices/{copy['id']}"),
        )
        assert pdf_text(elsewhere) == pdf_text(inline)
        assert notes in pdf_text(elsewhere)
        assert font_names(elsewhere) == font_names(inline)
    finally:
        helped.extensions["sandbox"]["engine"].offload.close()
