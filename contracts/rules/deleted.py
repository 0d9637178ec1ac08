"""The deletion check: a deleted record answers 404 and leaves every list and search."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.results import Failure
from contracts.rules.common import ids_of, rows_of
from contracts.rules.context import Context, Findings


def check_deleted(ctx: Context) -> list[Failure]:
    """A deleted customer, invoice, payment or estimate answers 404 and leaves every list."""
    rule = "rules.deleted"
    found = Findings(ctx)
    token = ctx.token("gone")
    lonely = ctx.customer(rule, f"Gone {token}")
    ctx.do(rule, "DELETE", f"/customers/{lonely}", 204)
    _absent(ctx, found, f"/customers/{lonely}", "/customers", {"search": token}, lonely)
    search = ctx.api.call("GET", "/search", params={"q": token, "limit": 100})
    if search.status_code == 200 and ("customers", lonely) in [(r.get("type"), r.get("id")) for r in rows_of(search)]:
        found.add(rule, f"deleted customer {lonely} is still a /search hit", search)
    customer = ctx.customer(rule, f"Keeps {token}")
    invoice = int(ctx.invoice(rule, customer)["id"])
    ctx.do(rule, "DELETE", f"/invoices/{invoice}", 204)
    _absent(ctx, found, f"/invoices/{invoice}", "/invoices", {"customer_id": customer}, invoice)
    paid = int(ctx.invoice(rule, customer, (20000,))["id"])
    payment = int(
        ctx.create(
            rule, "/payments", {"customer_id": customer, "invoice_id": paid, "amount": 700, "payment_date": ctx.day()}
        )["id"]
    )
    ctx.do(rule, "DELETE", f"/payments/{payment}", 204)
    _absent(ctx, found, f"/payments/{payment}", "/payments", {"invoice_id": paid}, payment)
    again = ctx.api.call("DELETE", f"/payments/{payment}")
    if again.status_code != 404:
        found.add(rule, f"deleting payment {payment} twice: expected 404, got {again.status_code}", again)
    estimate = int(
        ctx.create(
            rule,
            "/estimates",
            {
                "customer_id": customer,
                "estimate_date": ctx.day(),
                "expiry_date": ctx.day(30),
                "items": [{"name": "Gone", "quantity": 1, "price": 100}],
            },
        )["id"]
    )
    ctx.do(rule, "DELETE", f"/estimates/{estimate}", 204)
    _absent(ctx, found, f"/estimates/{estimate}", "/estimates", {"customer_id": customer}, estimate)
    return found.failures


def _absent(ctx: Context, found: Findings, item: str, collection: str, params: Mapping[str, Any], record: int) -> None:
    """GET of a deleted record is 404 and the list no longer holds it."""
    rule = "rules.deleted"
    response = ctx.api.call("GET", item)
    if response.status_code != 404:
        found.add(rule, f"GET {item} after DELETE: expected 404, got {response.status_code}", response)
    listing = ctx.listing(rule, collection, params)
    if record in ids_of(rows_of(listing)):
        found.add(rule, f"{collection} still lists deleted record {record}", listing)
