"""The invoicing domain's filter check: status, paid status, customer, invoice and date filters on invoices it makes."""

from __future__ import annotations

from contracts.results import Failure
from contracts.rules.common import ids_of, message_of, payload, rows_of
from contracts.rules.context import Context, Findings

PAGE_LIMIT = 7  # the page size the pagination check walks with
MAX_PAGES = 400  # walk at most this many pages of /customers


def check_filters(ctx: Context) -> list[Failure]:
    """status, paid_status, customer_id, invoice_id and date filters return exactly what they name."""
    rule = "rules.filters"
    found = Findings(ctx)
    customer = ctx.customer(rule, f"Filter {ctx.token('filter')}")
    sent = ctx.invoice(rule, customer, (12000,), invoice_date=ctx.day(-2))["id"]
    completed = ctx.invoice(rule, customer, (34000,), invoice_date=ctx.day(-1))["id"]
    draft = ctx.invoice(rule, customer, (56000,))["id"]
    paths = ctx.paths
    invoices_path, payments_path, estimates_path = (paths.collection(n) for n in ("invoices", "payments", "estimates"))
    ctx.do(rule, "POST", paths.action("invoices", "send", sent), 200)
    ctx.do(rule, "POST", paths.action("invoices", "complete", completed), 200)
    payment = ctx.create(
        rule, payments_path, {"customer_id": customer, "invoice_id": sent, "amount": 5000, "payment_date": ctx.day()}
    )["id"]
    invoices = {"SENT": [sent], "COMPLETED": [completed], "DRAFT": [draft]}
    response = ctx.listing(rule, invoices_path, {"customer_id": customer})
    found.same_ids(rule, f"{invoices_path}?customer_id={customer}", response, [sent, completed, draft])
    for status, expected in invoices.items():
        response = ctx.listing(rule, invoices_path, {"status": status, "customer_id": customer})
        found.same_ids(rule, f"{invoices_path}?status={status}&customer_id={customer}", response, expected)
        response = ctx.listing(rule, invoices_path, {"status": status, "sort": "-id"})
        others = sorted({str(row.get("status")) for row in rows_of(response)} - {status})
        if others:
            found.add(rule, f"{invoices_path}?status={status} returned invoices with status {others}", response)
        meta = (payload(response) or {}).get("meta") or {}
        complete = isinstance(meta, dict) and isinstance(meta.get("total"), int) and meta["total"] <= 100
        if complete and expected[0] not in ids_of(rows_of(response)):
            found.add(
                rule, f"{invoices_path}?status={status} lacks invoice {expected[0]}, just moved to {status}", response
            )
    for paid, expected in (("PARTIALLY_PAID", [sent]), ("UNPAID", [completed, draft])):
        response = ctx.listing(rule, invoices_path, {"paid_status": paid, "customer_id": customer})
        found.same_ids(rule, f"{invoices_path}?paid_status={paid}&customer_id={customer}", response, expected)
    params = {"customer_id": customer, "date_from": ctx.day(-1), "date_to": ctx.day()}
    response = ctx.listing(rule, invoices_path, params)
    found.same_ids(
        rule,
        f"{invoices_path}?customer_id={customer}&date_from={ctx.day(-1)}&date_to={ctx.day()}",
        response,
        [completed, draft],
    )
    for key, value in (("invoice_id", sent), ("customer_id", customer)):
        response = ctx.listing(rule, payments_path, {key: value})
        found.same_ids(rule, f"{payments_path}?{key}={value}", response, [payment])
    estimate = ctx.create(
        rule,
        estimates_path,
        {
            "customer_id": customer,
            "estimate_date": ctx.day(),
            "expiry_date": ctx.day(30),
            "items": [{"name": "Estimate line", "quantity": 1, "price": 7000}],
        },
    )["id"]
    ctx.do(rule, "POST", paths.action("estimates", "send", estimate), 200)
    response = ctx.listing(rule, estimates_path, {"status": "SENT", "customer_id": customer})
    found.same_ids(rule, f"{estimates_path}?status=SENT&customer_id={customer}", response, [estimate])
    response = ctx.listing(rule, estimates_path, {"status": "DRAFT", "customer_id": customer})
    found.same_ids(rule, f"{estimates_path}?status=DRAFT&customer_id={customer}", response, [])
    bad = ctx.api.call("GET", invoices_path, params={"status": "NOT_A_STATUS"})
    if bad.status_code != 400:
        found.add(rule, f"an unknown status filter value must be 400, got {bad.status_code}", bad)
    elif "DRAFT" not in message_of(bad):
        found.add(rule, f"the 400 for an unknown status must list the allowed values, got {message_of(bad)!r}", bad)
    return found.failures
