"""What the customer's copy of an invoice or estimate says, from its records: parties, facts, lines, totals.

Only what a customer is meant to read goes in: the internal status (DRAFT, OVERDUE...) and ids do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.invoicing.formatting import Formats, document_locale, minor_units
from domains.invoicing.printed import Line, Party, Sheet

_FACTS = {
    "invoice": (("Invoice number", "invoice_number"), ("Invoice date", "invoice_date"), ("Due date", "due_date")),
    "estimate": (
        ("Estimate number", "estimate_number"),
        ("Estimate date", "estimate_date"),
        ("Valid until", "expiry_date"),
    ),
}


def formats_for(currency: Mapping[str, Any] | None, company: Mapping[str, Any]) -> Formats:
    """The document's currency (its record, else the company's) and the company's locale."""
    code = str((currency or {}).get("code") or company.get("currency") or "USD")
    country = (company.get("address") or {}).get("country")
    return Formats(code, minor_units(code, (currency or {}).get("precision")), document_locale(country))


def address_lines(address: Mapping[str, Any] | None, formats: Formats) -> list[str]:
    """A postal address as printed: street lines, ``City, State Zip``, the country's name."""
    if not address:
        return []
    region = " ".join(str(address[k]) for k in ("state", "zip") if address.get(k))
    locality = ", ".join(part for part in (str(address.get("city") or ""), region) if part)
    lines = [str(address[k]) for k in ("address_street_1", "address_street_2") if address.get(k)]
    lines += [locality] if locality else []
    lines += [formats.country(address["country"])] if address.get("country") else []
    return lines


def issuer(company: Mapping[str, Any], formats: Formats) -> Party:
    """The company that sends the document: its name, address and phone (never its keys)."""
    address = company.get("address") or {}
    lines = address_lines(address, formats)
    lines += [f"Phone {address['phone']}"] if address.get("phone") else []
    return Party(str(company.get("name") or ""), tuple(lines))


def recipient(customer: Mapping[str, Any] | None, formats: Formats) -> Party:
    """The customer: name, company and contact where they differ, billing address, e-mail and phone."""
    if not customer:
        return Party("")
    name = str(customer.get("name") or "")
    lines = [str(customer["company_name"])] if customer.get("company_name") not in (None, "", name) else []
    lines += [f"Attn. {customer['contact_name']}"] if customer.get("contact_name") not in (None, "", name) else []
    billing = customer.get("billing") or {}
    lines += address_lines(billing, formats)
    lines += [str(customer["email"])] if customer.get("email") else []
    phone = customer.get("phone") or billing.get("phone")
    lines += [f"Phone {phone}"] if phone else []
    return Party(name, tuple(lines))


def _line(item: Mapping[str, Any], formats: Formats) -> Line:
    return Line(
        name=str(item.get("name") or ""),
        description=str(item.get("description") or ""),
        quantity=formats.quantity(item.get("quantity")),
        unit_price=formats.money(item.get("price")),
        tax=formats.percent(item.get("tax_rate")),
        amount=formats.money(item.get("total")),
    )


def _totals(kind: str, document: Mapping[str, Any], formats: Formats) -> list[tuple[str, str]]:
    """Sub total, discount, tax and total; on an invoice, what was paid and the amount due."""
    totals = [("Subtotal", formats.money(document.get("sub_total")))]
    if document.get("discount_val"):
        rate = (
            f" ({formats.percent(document.get('discount'))})" if document.get("discount_type") == "percentage" else ""
        )
        totals.append((f"Discount{rate}", formats.money(-int(document["discount_val"]))))
    totals += [("Tax", formats.money(document.get("tax"))), ("Total", formats.money(document.get("total")))]
    if kind == "invoice":
        due = int(document.get("due_amount") or 0)
        paid = int(document.get("total") or 0) - due
        totals += [("Paid", formats.money(-paid))] if paid > 0 else []
        totals.append(("Amount due", formats.money(due)))
    return totals


def sheet(
    kind: str,
    document: Mapping[str, Any],
    customer: Mapping[str, Any] | None,
    company: Mapping[str, Any],
    currency: Mapping[str, Any] | None,
) -> Sheet:
    """The customer's copy of an invoice or estimate (``kind``), every figure in the document's currency."""
    formats = formats_for(currency, company)
    facts = [
        (label, formats.date(document[field]) if field.endswith("_date") else str(document[field]))
        for label, field in _FACTS[kind]
        if document.get(field)
    ]
    facts += [("Reference", str(document["reference_number"]))] if document.get("reference_number") else []
    facts.append(("Currency", formats.currency_label()))
    return Sheet(
        title=kind.title(),
        number=str(document.get(f"{kind}_number") or document.get("id") or ""),
        issuer=issuer(company, formats),
        recipient=recipient(customer, formats),
        facts=tuple(facts),
        lines=tuple(_line(item, formats) for item in document.get("items") or []),
        totals=tuple(_totals(kind, document, formats)),
        notes=str(document.get("notes") or ""),
        recipient_label="Bill to" if kind == "invoice" else "Prepared for",
    )
