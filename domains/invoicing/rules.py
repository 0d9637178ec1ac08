"""Invoices, estimates, payments and customers: totals, dues, conversions and integrity rules."""

from __future__ import annotations

import copy
import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from domains.invoicing import lifecycle, money
from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.crud import action, find, path_id
from mockserver.behaviours.hooks import Write
from mockserver.behaviours.registry import Behaviour
from mockserver.errors import Conflict, ValidationFailed
from mockserver.state.clock import Clock
from mockserver.state.fake import RefPicker
from mockserver.store import Condition, Query, Record, Tenant

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

_DOCUMENT_FIELDS = ("customer_id", "currency_id", "discount_type", "discount", "notes", "project_id")
_LINE_FIELDS = ("name", "description", "quantity", "price", "tax_rate")
# The fields the rules compute from: another API's "invoices" (Stripe's, say) has other fields and gets no rules.
_RULE_FIELDS = {
    "invoices": {"items", "discount", "sub_total", "total", "due_amount"},
    "estimates": {"items", "discount", "sub_total", "total"},
    "payments": {"amount", "invoice_id"},
}


def install(engine: Engine) -> None:
    """Register the invoicing rules as hooks on the resources the spec defines, when they fit them."""
    resources = {
        name
        for name, resource in engine.index.resources.items()
        if _RULE_FIELDS.get(name, set()) <= (resource.schema.get("properties") or {}).keys()
    }
    if "invoices" in resources:
        engine.hooks.add_derive(
            "invoices",
            lifecycle.check_dates("due_date", "invoice_date"),
            derive_invoice,
            lifecycle.follow_clock_invoice,
        )
        engine.hooks.add_clock_rule("invoices", lifecycle.INVOICE_CLOCK)
        engine.hooks.add_edit_guard("invoices", lifecycle.guard_invoice_edit)
        engine.hooks.add_delete_guard("invoices", _guard_invoice_delete)
        engine.hooks.add_seed_fix("invoices", _seed_invoice_status)
    if "estimates" in resources:
        engine.hooks.add_derive(
            "estimates",
            lifecycle.check_dates("expiry_date", "estimate_date"),
            lambda record, tenant, clock: money.apply_totals(record),
            lifecycle.follow_clock_estimate,
        )
        engine.hooks.add_clock_rule("estimates", lifecycle.ESTIMATE_CLOCK)
        engine.hooks.add_edit_guard("estimates", lifecycle.guard_estimate_edit)
        engine.hooks.add_delete_guard("estimates", lifecycle.guard_estimate_delete)
    if "projects" in resources:
        engine.hooks.add_derive("projects", lifecycle.check_dates("end_date", "start_date"))
    if "payments" in resources and "invoices" in resources:
        engine.hooks.add_derive("payments", _check_payment)
        engine.hooks.add_after_write("payments", _refresh_paid_invoices)
        engine.hooks.add_seed_fix("payments", _seed_payment)
        engine.hooks.add_seed_fix("invoices", _seed_invoice_of_documented_payment)
    if "customers" in resources:
        engine.hooks.add_delete_guard("customers", _guard_customer_delete)
    if "invoices" in resources and "estimates" in resources:
        engine.hooks.add_seed_fix("invoices", _seed_unconverted)
        engine.hooks.add_seed_fix("estimates", _seed_unconverted)
        engine.hooks.add_after_seed(_seed_conversions)


def derive_invoice(invoice: Record, tenant: Tenant, clock: Clock) -> None:
    """Totals and payment state of an invoice from its items and the payments applied to it."""
    money.apply_totals(invoice)
    payments = tenant.lookup("payments", "invoice_id", invoice.get("id"))
    paid = money.sum_amounts(payments)
    errors: dict[str, list[str]] = {}
    if paid > invoice["total"]:
        errors["items"] = [f"The total ({invoice['total']}) would fall below the {paid} already paid."]
    others = sorted({p["customer_id"] for p in payments if p.get("customer_id") != invoice.get("customer_id")})
    if others:
        errors["customer_id"] = [f"The invoice has payments from customer {others[0]}; it cannot change customer."]
    if errors:
        raise ValidationFailed(errors)
    stamps = [str(p["updated_at"]) for p in payments if p.get("updated_at")]
    settle(invoice, invoice["total"] - paid, max(stamps, default=None) or clock.timestamp())


def settle(invoice: Record, due: int, stamp: str) -> None:
    """Set due_amount, paid_status, paid_at and the status that payments imply.

    Paid in full, an open invoice is COMPLETED; unpaid again, an invoice that payment had
    completed reopens as SENT (the clock rule then makes it OVERDUE if it is past due).
    """
    was_paid = invoice.get("paid_status") == "PAID"
    invoice["due_amount"] = max(0, min(due, int(invoice.get("total") or 0)))
    invoice["paid_status"] = money.paid_status(int(invoice.get("total") or 0), invoice["due_amount"])
    paid_now = invoice["paid_status"] == "PAID"
    if not paid_now:
        invoice["paid_at"] = None
    elif not was_paid:
        invoice["paid_at"] = stamp
    if paid_now and invoice.get("status") not in (None, "DRAFT"):
        invoice["status"] = "COMPLETED"
    elif was_paid and not paid_now and invoice.get("status") == "COMPLETED":
        invoice["status"] = "SENT"


def _check_payment(payment: Record, tenant: Tenant, clock: Clock) -> None:
    """A payment applies to an invoice of the same customer and never exceeds what is due."""
    invoice = tenant.get("invoices", payment.get("invoice_id")) if payment.get("invoice_id") else None
    if invoice is None:
        return
    errors: dict[str, list[str]] = {}
    if payment.get("customer_id") != invoice.get("customer_id"):
        errors["customer_id"] = [f"The invoice belongs to customer {invoice.get('customer_id')}."]
    previous = tenant.get("payments", payment.get("id"))
    refund = int(previous.get("amount") or 0) if previous and previous.get("invoice_id") == invoice["id"] else 0
    available = int(invoice.get("due_amount") or 0) + refund
    if int(payment.get("amount") or 0) > available:
        errors["amount"] = [f"The amount exceeds the invoice's due amount of {available}."]
    if errors:
        raise ValidationFailed(errors)


def _refresh_paid_invoices(before: Record | None, after: Record | None, tenant: Tenant, clock: Clock) -> None:
    """Move the dues of the invoices a payment was and is applied to by its amount (no rescan)."""
    for payment, sign in ((before, 1), (after, -1)):
        if not payment or not payment.get("invoice_id"):
            continue
        invoice = tenant.get("invoices", payment["invoice_id"])
        if invoice is not None:
            due = int(invoice.get("due_amount") or 0) + sign * int(payment.get("amount") or 0)
            settle(invoice, due, str((after or {}).get("updated_at") or clock.timestamp()))
            lifecycle.follow_clock_invoice(invoice, tenant, clock)
            tenant.put("invoices", invoice["id"], invoice)


def _seed_payment(payment: Record, tenant: Tenant, rng: random.Random, pick_ref: RefPicker) -> None:
    """Point a seeded payment at an open invoice, for that invoice's customer and at most its due."""
    invoice = None
    for _ in range(25):
        candidate = tenant.get("invoices", pick_ref("invoices") or 0)
        if candidate and int(candidate.get("due_amount") or 0) > 0 and candidate.get("status") != "DRAFT":
            invoice = candidate
            break
    if invoice is None:
        payment["invoice_id"] = None
        return
    due = int(invoice["due_amount"])
    payment["invoice_id"] = invoice["id"]
    payment["customer_id"] = invoice["customer_id"]
    if invoice.get("invoice_date"):  # paid on or after the day it was invoiced
        payment["payment_date"] = max(str(payment.get("payment_date") or ""), str(invoice["invoice_date"]))
    payment["amount"] = due if rng.random() < 0.6 else max(1, due // rng.choice((2, 3, 4)))


_SEEDED_INVOICE_STATUSES = ("DRAFT", "SENT", "VIEWED")
_SEEDED_INVOICE_WEIGHTS = (2, 5, 3)


def _seed_invoice_status(invoice: Record, tenant: Tenant, rng: random.Random, pick_ref: RefPicker) -> None:
    """A seeded invoice starts DRAFT, SENT or VIEWED; payments and the clock move it on from there."""
    invoice["status"] = rng.choices(_SEEDED_INVOICE_STATUSES, _SEEDED_INVOICE_WEIGHTS)[0]
    invoice["paid_status"] = "UNPAID"
    for field in ("paid_at", "sent_at"):
        if field in invoice:
            invoice[field] = None
    if invoice["status"] != "DRAFT" and "sent_at" in invoice:
        invoice["sent_at"] = f"{invoice.get('invoice_date') or '2026-01-01'}T10:00:00Z"


def _seed_invoice_of_documented_payment(
    invoice: Record, tenant: Tenant, rng: random.Random, pick_ref: RefPicker
) -> None:
    """A seeded invoice that a documented payment already names belongs to that payment's customer and covers it."""
    payments = tenant.lookup("payments", "invoice_id", invoice.get("id"))
    for payment in payments:
        if payment.get("customer_id") is not None:
            invoice["customer_id"] = payment["customer_id"]
    if payments:
        _cover(invoice, money.sum_amounts(payments))


def _cover(invoice: Record, paid: int) -> None:
    """Raise the first line's price until the invoice's total is at least what was already paid on it."""
    items = invoice.get("items") or []
    for _ in range(16):
        trial = copy.deepcopy(invoice)
        money.apply_totals(trial)
        shortfall = paid - int(trial["total"])
        if shortfall <= 0 or not items:
            return
        items[0]["price"] = int(items[0].get("price") or 0) + shortfall


def _seed_unconverted(document: Record, tenant: Tenant, rng: random.Random, pick_ref: RefPicker) -> None:
    """A seeded invoice or estimate is no conversion: the links only ``convertEstimate`` sets stay null."""
    for link in ("estimate_id", "invoice_id"):
        if link in document:
            document[link] = None


def _seed_conversions(engine: Engine, tenant: Tenant, rng: random.Random) -> None:
    """Convert about half of the seeded ACCEPTED estimates, so the seed shows estimate -> invoice links."""
    for estimate in tenant.find("estimates", Query(where=(Condition("status", "eq", "ACCEPTED"),))):
        if rng.random() < 0.5:
            convert(engine, tenant, estimate)


def _guard_invoice_delete(invoice: Record, tenant: Tenant) -> None:
    if tenant.lookup("payments", "invoice_id", invoice.get("id")):
        raise Conflict(f"Invoice {invoice.get('id')} has payments; delete them first.")


def _guard_customer_delete(customer: Record, tenant: Tenant) -> None:
    for resource in ("invoices", "estimates", "payments"):
        if tenant.lookup(resource, "customer_id", customer.get("id")):
            raise Conflict(f"Customer {customer.get('id')} still has {resource}; delete them first.")


def mark_invoice_paid(call: Call, engine: Engine) -> Reply:
    """Record a payment for the whole due amount."""
    invoice = find(call, engine.index.resources["invoices"], path_id(call))
    due = int(invoice.get("due_amount") or 0)
    if due <= 0:
        raise Conflict(f"Invoice {invoice['id']} is already paid (status {invoice.get('status')}).")
    payment = {
        "payment_date": call.clock.today().isoformat(),
        "amount": due,
        "customer_id": invoice["customer_id"],
        "invoice_id": invoice["id"],
        "notes": "Recorded by mark-paid.",
    }
    payments = engine.index.resources["payments"]
    properties = payments.schema.get("properties") or {}
    largest = (properties.get("amount") or {}).get("maximum")
    if isinstance(largest, int) and due > largest:
        raise ValidationFailed(
            {"due_amount": [f"{due} is more than one payment can record ({largest}); record it in several payments."]},
            f"Invoice {invoice['id']} is due {due}, more than one payment can record; POST /payments in parts.",
        )
    engine.new_record(call.tenant, payments, {k: v for k, v in payment.items() if k in properties})
    settled = call.tenant.get("invoices", invoice["id"]) or invoice
    return Reply(200, engine.render_item(call, settled))


def convert_estimate(call: Call, engine: Engine) -> Reply:
    """Create an invoice with the estimate's customer and items; the estimate becomes ACCEPTED."""
    estimate = find(call, engine.index.resources["estimates"], path_id(call))
    invoice = convert(engine, call.tenant, estimate)
    return Reply(call.operation.success_status, engine.render_item(call, invoice))


def convert(engine: Engine, tenant: Tenant, estimate: Record) -> Record:
    """Turn an estimate into a new invoice (same customer, lines and discount) and link the two, or 409."""
    if estimate.get("invoice_id"):
        raise Conflict(f"Estimate {estimate['id']} was already converted to invoice {estimate['invoice_id']}.")
    if estimate.get("status") in ("REJECTED", "EXPIRED"):
        raise Conflict(f"Cannot convert estimate {estimate['id']}: its status is {estimate['status']}.")
    invoices = engine.index.resources["invoices"]
    today = engine.clock.today()
    body: dict[str, Any] = {k: estimate[k] for k in _DOCUMENT_FIELDS if estimate.get(k) is not None}
    body["invoice_date"] = today.isoformat()
    body["due_date"] = (today + dt.timedelta(days=30)).isoformat()
    body["items"] = [
        {k: line[k] for k in _LINE_FIELDS if line.get(k) is not None} for line in estimate.get("items", [])
    ]
    invoice = engine.new_record(tenant, invoices, _known(body, invoices.schema))
    created = copy.deepcopy(invoice)
    invoice["estimate_id"] = estimate["id"]
    engine.write(tenant, invoices, Write.ACTION, created, invoice)
    before = copy.deepcopy(estimate)
    estimate.update(status="ACCEPTED", invoice_id=invoice["id"], updated_at=engine.clock.timestamp())
    engine.write(tenant, engine.index.resources["estimates"], Write.ACTION, before, estimate)
    return invoice


def convert_lead(call: Call, engine: Engine) -> Reply:
    """Create a customer from a lead; the lead becomes CONVERTED and points at it."""
    lead = find(call, engine.index.resources["leads"], path_id(call))
    if lead.get("status") == "CONVERTED" or lead.get("customer_id"):
        raise Conflict(f"Lead {lead['id']} was already converted to customer {lead.get('customer_id')}.")
    allowed = (call.operation.extensions.get("x-sandbox-transition") or {}).get("from")
    if allowed is not None and lead.get("status") not in allowed:
        raise Conflict(
            f"Cannot convert lead {lead['id']}: its status is {lead.get('status')} (allowed from {', '.join(allowed)})."
        )
    customers = engine.index.resources["customers"]
    name = " ".join(str(lead.get(k) or "") for k in ("first_name", "last_name")).strip() or str(lead.get("company"))
    body = {
        "name": name,
        "email": lead.get("email"),
        "phone": lead.get("phone"),
        "company_name": lead.get("company"),
    }
    customer = engine.new_record(call.tenant, customers, _known({k: v for k, v in body.items() if v}, customers.schema))
    before = copy.deepcopy(lead)
    lead.update(status="CONVERTED", customer_id=customer["id"], updated_at=call.clock.timestamp())
    engine.write(call.tenant, engine.index.resources["leads"], Write.ACTION, before, lead)
    return Reply(call.operation.success_status, engine.render_item(call, customer))


def send_document(call: Call, engine: Engine) -> Reply:
    """The spec's DRAFT -> SENT transition; sending also stamps ``sent_at`` (one write)."""

    def stamp_sent(document: Record) -> None:
        document["sent_at"] = call.clock.timestamp()

    return action(call, engine, also=stamp_sent)


def batch_create_customers(call: Call, engine: Engine) -> Reply:
    """Create many customers, all or nothing; errors are keyed ``customers.<index>.<field>``."""
    customers = engine.index.resources["customers"]
    rows = (call.body or {}).get("customers", [])
    created: list[Record] = []
    errors: dict[str, list[str]] = {}
    for position, row in enumerate(rows):
        try:
            created.append(engine.new_record(call.tenant, customers, row))
        except ValidationFailed as failure:
            for field, messages in (failure.errors or {}).items():
                errors[f"customers.{position}.{field}"] = messages
    if errors:  # raised inside the request's transaction: every row written so far is rolled back
        raise ValidationFailed(errors, "No customer was created: fix the listed rows and send the batch again.")
    return Reply(call.operation.success_status, {"data": [engine.render_item(call, r)["data"] for r in created]})


def _known(body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Only the fields a resource's schema declares and a client may write."""
    properties = schema.get("properties") or {}
    return {k: v for k, v in body.items() if k in properties and not properties[k].get("readOnly")}


BEHAVIOURS: dict[str, Behaviour] = {
    "markInvoicePaid": mark_invoice_paid,
    "convertEstimate": convert_estimate,
    "convertLead": convert_lead,
    "sendInvoice": send_document,
    "sendEstimate": send_document,
    "batchCreateCustomers": batch_create_customers,
}
