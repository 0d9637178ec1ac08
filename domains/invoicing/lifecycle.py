"""Invoice and estimate lifecycles: statuses that follow the sandbox clock, and what each status allows.

invoice:  DRAFT -> SENT -> VIEWED -> COMPLETED; SENT/VIEWED past due_date and unpaid -> OVERDUE
estimate: DRAFT -> SENT -> ACCEPTED | REJECTED; DRAFT/SENT past expiry_date -> EXPIRED
"""

from __future__ import annotations

import datetime as dt

from mockserver.behaviours.hooks import ClockRule
from mockserver.behaviours.records import Derive
from mockserver.errors import Conflict, ValidationFailed
from mockserver.state.clock import Clock
from mockserver.store import Condition, Record, Tenant

OPEN_INVOICE = frozenset({"SENT", "VIEWED", "OVERDUE"})
OPEN_ESTIMATE = frozenset({"DRAFT", "SENT"})
FROZEN_ESTIMATE = frozenset({"ACCEPTED", "REJECTED"})


def invoice_status(invoice: Record, today: dt.date) -> str | None:
    """The status an invoice has today: OVERDUE while open, unpaid and past its due date."""
    status = invoice.get("status")
    if status not in OPEN_INVOICE:
        return status
    due = invoice.get("due_date")
    if due and str(due) < today.isoformat() and invoice.get("paid_status") != "PAID":
        return "OVERDUE"
    return "SENT" if status == "OVERDUE" else str(status)


def estimate_status(estimate: Record, today: dt.date) -> str | None:
    """The status an estimate has today: EXPIRED while open and past its expiry date."""
    status = estimate.get("status")
    expiry = estimate.get("expiry_date")
    past = bool(expiry) and str(expiry) < today.isoformat()
    if status in OPEN_ESTIMATE and past:
        return "EXPIRED"
    if status == "EXPIRED" and not past:
        return "SENT" if estimate.get("sent_at") else "DRAFT"
    return status


def follow_clock_invoice(invoice: Record, tenant: Tenant, clock: Clock) -> None:
    """Derive hook: apply today's OVERDUE rule to an invoice being written."""
    invoice["status"] = invoice_status(invoice, clock.today())


def follow_clock_estimate(estimate: Record, tenant: Tenant, clock: Clock) -> None:
    """Derive hook: apply today's EXPIRED rule to an estimate being written."""
    estimate["status"] = estimate_status(estimate, clock.today())


def invoice_candidates(today: dt.date) -> list[tuple[Condition, ...]]:
    """Invoices today's rule may change: open and past due, or OVERDUE and no longer so."""
    day = today.isoformat()
    return [
        (Condition("status", "in", ["SENT", "VIEWED"]), Condition("due_date", "lt", day)),
        (Condition("status", "eq", "OVERDUE"), Condition("due_date", "ge", day)),
        (Condition("status", "eq", "OVERDUE"), Condition("paid_status", "eq", "PAID")),
        (Condition("status", "eq", "OVERDUE"), Condition("due_date", "eq", None)),
    ]


def estimate_candidates(today: dt.date) -> list[tuple[Condition, ...]]:
    """Estimates today's rule may change: open and past expiry, or EXPIRED and no longer so."""
    day = today.isoformat()
    return [
        (Condition("status", "in", sorted(OPEN_ESTIMATE)), Condition("expiry_date", "lt", day)),
        (Condition("status", "eq", "EXPIRED"), Condition("expiry_date", "ge", day)),
        (Condition("status", "eq", "EXPIRED"), Condition("expiry_date", "eq", None)),
    ]


INVOICE_CLOCK = ClockRule(follow_clock_invoice, invoice_candidates)
ESTIMATE_CLOCK = ClockRule(follow_clock_estimate, estimate_candidates)


def check_dates(later: str, earlier: str) -> Derive:
    """A derive hook requiring ``later`` (e.g. due_date) to be on or after ``earlier`` (e.g. invoice_date)."""

    def check(record: Record, tenant: Tenant, clock: Clock) -> None:
        first, second = record.get(earlier), record.get(later)
        if first and second and str(second) < str(first):
            raise ValidationFailed({later: [f"{later} ({second}) must be on or after {earlier} ({first})."]})

    return check


def guard_invoice_edit(invoice: Record, tenant: Tenant) -> None:
    """A COMPLETED invoice is closed: reopen it (uncomplete) before editing."""
    if invoice.get("status") == "COMPLETED":
        raise Conflict(f"Invoice {invoice.get('id')} is COMPLETED; uncomplete it before editing it.")


def guard_estimate_edit(estimate: Record, tenant: Tenant) -> None:
    """An accepted, rejected or converted estimate is final."""
    if estimate.get("status") in FROZEN_ESTIMATE or estimate.get("invoice_id"):
        raise Conflict(f"Estimate {estimate.get('id')} is {estimate.get('status')} and can no longer be edited.")


def guard_estimate_delete(estimate: Record, tenant: Tenant) -> None:
    """A converted estimate stays, so its invoice's estimate_id keeps pointing at something."""
    if estimate.get("invoice_id"):
        raise Conflict(f"Estimate {estimate.get('id')} was converted to invoice {estimate['invoice_id']}.")
