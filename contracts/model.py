"""A pure-Python reference model of the invoicing rules (API.md, openapi.yaml): no HTTP at all.

``Model`` holds only what a client itself created (customers, invoices with their lines,
estimates, payments) and answers, before a request is sent, what the server must do with it: a
``Verdict`` (success, or 409/422 and why). The arithmetic, lifecycle tables and numbering it
applies are ``contracts.rulebook``'s, re-exported here so one import serves the model's users.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contracts.rulebook import (
    CONVERTIBLE,
    ESTIMATE_ACTIONS,
    ESTIMATE_STATUSES,
    FIXED,
    INVOICE_ACTIONS,
    INVOICE_STATUSES,
    OPEN_ESTIMATE,
    OPEN_INVOICE,
    PERCENTAGE,
    Line,
    Number,
    Numbering,
    Totals,
    can_convert,
    discount_value,
    document_totals,
    due_amount,
    estimate_status_on,
    estimate_transition,
    invoice_status_on,
    invoice_transition,
    json_number,
    line_tax,
    line_total,
    number_problem,
    paid_status,
    round_half_up,
    status_after_payments,
    to_decimal,
    totals_problem,
)

__all__ = [
    "CONVERTIBLE",
    "ESTIMATE_ACTIONS",
    "ESTIMATE_STATUSES",
    "FIXED",
    "INVOICE_ACTIONS",
    "INVOICE_STATUSES",
    "OPEN_ESTIMATE",
    "OPEN_INVOICE",
    "PERCENTAGE",
    "Customer",
    "Document",
    "Estimate",
    "Invoice",
    "Line",
    "Model",
    "Number",
    "Numbering",
    "Payment",
    "Totals",
    "Verdict",
    "can_convert",
    "discount_value",
    "document_totals",
    "due_amount",
    "estimate_status_on",
    "estimate_transition",
    "invoice_status_on",
    "invoice_transition",
    "json_number",
    "line_tax",
    "line_total",
    "number_problem",
    "paid_status",
    "round_half_up",
    "status_after_payments",
    "to_decimal",
    "totals_problem",
]


# ---------------------------------------------------------------------------------------------
# State: what the client created
# ---------------------------------------------------------------------------------------------


@dataclass
class Customer:
    """A customer the client created."""

    id: int
    name: str


@dataclass
class Document:
    """What invoices and estimates share: a customer, lines and a discount."""

    id: int
    customer_id: int
    number: str
    lines: list[Line]
    discount_type: str = FIXED
    discount: Decimal = Decimal(0)

    @property
    def totals(self) -> Totals:
        """The computed money fields."""
        return document_totals(self.lines, self.discount_type, self.discount)


@dataclass
class Invoice(Document):
    """An invoice the client created (or converted), with the payments applied to it (payment id -> amount)."""

    status: str = "DRAFT"
    due_date: str | None = None
    estimate_id: int | None = None
    payments: dict[int, int] = field(default_factory=dict)
    # Statuses the spec leaves open after an unusual sequence (e.g. a paid DRAFT sent): any of them is right.
    also_valid: frozenset[str] = frozenset()
    completed_by_payment: bool = False

    @property
    def paid(self) -> int:
        """The sum of the payments applied."""
        return sum(self.payments.values())

    @property
    def due(self) -> int:
        """``due_amount``."""
        return due_amount(self.totals.total, self.payments.values())

    @property
    def paid_status(self) -> str:
        """UNPAID, PARTIALLY_PAID or PAID."""
        return paid_status(self.totals.total, self.due)

    def status_on(self, today: dt.date | None) -> str:
        """The status the server must show (the clock applied)."""
        return invoice_status_on(self.status, self.due_date, today, self.paid_status)

    def statuses_on(self, today: dt.date | None) -> frozenset[str]:
        """Every status the server may rightly show."""
        return frozenset({self.status_on(today)}) | self.also_valid


@dataclass
class Estimate(Document):
    """An estimate the client created."""

    status: str = "DRAFT"
    expiry_date: str | None = None
    invoice_id: int | None = None

    def status_on(self, today: dt.date | None) -> str:
        """The status the server must show (the clock applied)."""
        return estimate_status_on(self.status, self.expiry_date, today)


@dataclass
class Payment:
    """A payment the client created (or mark-paid recorded)."""

    id: int
    customer_id: int
    invoice_id: int | None
    amount: int
    number: str


@dataclass(frozen=True)
class Verdict:
    """What the server must answer: ``status`` (the success code, 409 or 422), the rule and why."""

    status: int
    rule: str = ""
    reason: str = ""
    also: frozenset[int] = frozenset()

    @property
    def ok(self) -> bool:
        """True when the request must succeed."""
        return self.status < 300

    def accepts(self, status: int) -> bool:
        """Whether ``status`` is a right answer."""
        return status == self.status or status in self.also


@dataclass
class Model:
    """The records a client created and the rules they obey."""

    today: dt.date | None = None
    customers: dict[int, Customer] = field(default_factory=dict)
    invoices: dict[int, Invoice] = field(default_factory=dict)
    estimates: dict[int, Estimate] = field(default_factory=dict)
    payments: dict[int, Payment] = field(default_factory=dict)

    # -- numbering ----------------------------------------------------------------------------

    def numbers(self, kind: str, *, besides: int | None = None) -> set[str]:
        """The numbers the live records of a kind hold (``besides`` one id)."""
        table: dict[int, Any] = getattr(self, kind)
        return {record.number for key, record in table.items() if key != besides}

    # -- customers ----------------------------------------------------------------------------

    def documents_of(self, customer_id: int) -> list[str]:
        """Which kinds of records still point at a customer."""
        kinds = []
        for kind in ("invoices", "estimates", "payments"):
            table: dict[int, Any] = getattr(self, kind)
            if any(record.customer_id == customer_id for record in table.values()):
                kinds.append(kind)
        return kinds

    def delete_customer_verdict(self, customer_id: int) -> Verdict:
        """A customer with invoices, estimates or payments cannot be deleted (409)."""
        kinds = self.documents_of(customer_id)
        if kinds:
            return Verdict(409, "rules.integrity", f"customer {customer_id} still has {', '.join(kinds)}")
        return Verdict(204)

    # -- invoices -----------------------------------------------------------------------------

    def create_document_verdict(self, lines: Sequence[Line], discount_type: str, discount: Number) -> Verdict:
        """Creating an invoice or estimate: 201, or 422 for a discount above the sub total."""
        problem = totals_problem(lines, discount_type, discount)
        return Verdict(422, "rules.totals", problem) if problem else Verdict(201)

    def edit_invoice_verdict(
        self, invoice_id: int, lines: Sequence[Line], discount_type: str, discount: Number
    ) -> Verdict:
        """Editing lines: 409 when COMPLETED; 422 for a discount above the sub total or a total below the paid."""
        invoice = self.invoices[invoice_id]
        invalid = totals_problem(lines, discount_type, discount)
        if invalid is None:
            total = document_totals(lines, discount_type, discount).total
            if total < invoice.paid:
                invalid = f"the new total ({total}) is below the {invoice.paid} already paid"
        if invoice.status == "COMPLETED":
            # Either refusal is right when both apply: the spec does not order them.
            also = frozenset({422}) if invalid else frozenset()
            return Verdict(409, "rules.transitions", f"invoice {invoice_id} is COMPLETED", also)
        if invalid:
            rule = "rules.payments" if "already paid" in invalid else "rules.totals"
            return Verdict(422, rule, invalid)
        return Verdict(200)

    def edit_invoice(self, invoice_id: int, lines: Sequence[Line], discount_type: str, discount: Number) -> None:
        """Apply an accepted edit: new lines and discount, dues and status follow."""
        invoice = self.invoices[invoice_id]
        was_paid = invoice.paid_status == "PAID"
        invoice.lines = list(lines)
        invoice.discount_type = discount_type
        invoice.discount = to_decimal(discount)
        self._settle(invoice, was_paid)

    def invoice_action_verdict(self, invoice_id: int, action: str) -> Verdict:
        """Send, complete, uncomplete: 200, or 409 naming the current status; mark-paid: 409 when nothing is due."""
        invoice = self.invoices[invoice_id]
        current = invoice.status_on(self.today)
        if action == "mark-paid":
            if invoice.due <= 0:
                return Verdict(409, "rules.transitions", f"invoice {invoice_id} is already PAID ({current})")
            return Verdict(200)
        if invoice_transition(action, current) is None:
            return Verdict(409, "rules.transitions", f"cannot {action} invoice {invoice_id}: its status is {current}")
        return Verdict(200)

    def invoice_action(self, invoice_id: int, action: str, payment: Payment | None = None) -> None:
        """Apply an allowed action (mark-paid with the payment the server recorded)."""
        invoice = self.invoices[invoice_id]
        invoice.also_valid = frozenset()
        if action == "mark-paid":
            if payment is None:
                raise ValueError("mark-paid records a payment")
            self.add_payment(payment)
            return
        to = invoice_transition(action, invoice.status_on(self.today))
        if to is None:
            raise ValueError(f"{action} is not allowed from {invoice.status}")
        if action == "send" and invoice.paid_status == "PAID":
            # Paid in full while DRAFT, then sent: SENT by the transition, COMPLETED by "paid in full".
            invoice.also_valid = frozenset({"COMPLETED"})
        invoice.completed_by_payment = False
        invoice.status = to

    def delete_invoice_verdict(self, invoice_id: int) -> Verdict:
        """An invoice with payments cannot be deleted (409)."""
        invoice = self.invoices[invoice_id]
        if invoice.payments:
            return Verdict(409, "rules.integrity", f"invoice {invoice_id} has {len(invoice.payments)} payment(s)")
        return Verdict(204)

    def delete_invoice(self, invoice_id: int) -> None:
        """Forget a deleted invoice."""
        del self.invoices[invoice_id]

    # -- payments -----------------------------------------------------------------------------

    def payment_verdict(self, customer_id: int, invoice_id: int | None, amount: int) -> Verdict:
        """A payment's amount is > 0 and at most the due; its customer is the invoice's (else 422)."""
        if amount <= 0:
            return Verdict(422, "rules.payments", f"amount {amount} is not above 0")
        if invoice_id is None:
            return Verdict(201)
        invoice = self.invoices[invoice_id]
        if customer_id != invoice.customer_id:
            return Verdict(
                422,
                "rules.payments",
                f"customer {customer_id} pays invoice {invoice_id} of customer {invoice.customer_id}",
            )
        if amount > invoice.due:
            return Verdict(422, "rules.payments", f"amount {amount} exceeds the due amount {invoice.due}")
        return Verdict(201)

    def add_payment(self, payment: Payment) -> None:
        """Record an accepted payment; its invoice's due, paid status and status follow."""
        self.payments[payment.id] = payment
        if payment.invoice_id is not None:
            invoice = self.invoices[payment.invoice_id]
            was_paid = invoice.paid_status == "PAID"
            invoice.payments[payment.id] = payment.amount
            self._settle(invoice, was_paid)

    def delete_payment(self, payment_id: int) -> None:
        """Forget a deleted payment; its invoice's due is restored."""
        payment = self.payments.pop(payment_id)
        if payment.invoice_id is not None and payment.invoice_id in self.invoices:
            invoice = self.invoices[payment.invoice_id]
            was_paid = invoice.paid_status == "PAID"
            invoice.payments.pop(payment_id, None)
            self._settle(invoice, was_paid)

    def _settle(self, invoice: Invoice, was_paid: bool) -> None:
        """Move the status the payments imply (paid in full / unpaid again)."""
        now_paid = invoice.paid_status == "PAID"
        before = invoice.status
        if now_paid == was_paid:
            if now_paid and before not in ("DRAFT", "COMPLETED"):
                # Reopened while paid, then edited and still paid in full: COMPLETED again is a fair reading too.
                invoice.also_valid = frozenset({"COMPLETED"})
            return
        invoice.status = status_after_payments(before, was_paid, now_paid)
        invoice.also_valid = frozenset()
        if now_paid and invoice.status == "COMPLETED" and before != "COMPLETED":
            invoice.completed_by_payment = True
        elif not now_paid and before == "COMPLETED":
            if not invoice.completed_by_payment:
                # Completed by hand, then paid, then unpaid: "restores the invoice" may mean COMPLETED again.
                invoice.also_valid = frozenset({"COMPLETED"})
            invoice.completed_by_payment = False

    def adopt_status(self, invoice_id: int, status: str) -> None:
        """The server chose one of the statuses the spec leaves open: follow it from now on."""
        invoice = self.invoices[invoice_id]
        if status in invoice.also_valid:
            invoice.status = status
            invoice.completed_by_payment = status == "COMPLETED" and invoice.paid_status == "PAID"
        invoice.also_valid = frozenset()

    # -- estimates ----------------------------------------------------------------------------

    def estimate_action_verdict(self, estimate_id: int, action: str) -> Verdict:
        """Send, accept, reject: 200, or 409 naming the current status."""
        estimate = self.estimates[estimate_id]
        current = estimate.status_on(self.today)
        if estimate_transition(action, current) is None:
            return Verdict(409, "rules.transitions", f"cannot {action} estimate {estimate_id}: its status is {current}")
        return Verdict(200)

    def estimate_action(self, estimate_id: int, action: str) -> None:
        """Apply an allowed estimate action."""
        estimate = self.estimates[estimate_id]
        to = estimate_transition(action, estimate.status_on(self.today))
        if to is None:
            raise ValueError(f"{action} is not allowed from {estimate.status}")
        estimate.status = to

    def convert_verdict(self, estimate_id: int) -> Verdict:
        """convert: 201 from DRAFT/SENT/ACCEPTED once; 409 when REJECTED/EXPIRED or already converted."""
        estimate = self.estimates[estimate_id]
        current = estimate.status_on(self.today)
        if estimate.invoice_id is not None:
            return Verdict(
                409,
                "rules.conversion",
                f"estimate {estimate_id} was already converted to invoice {estimate.invoice_id}",
            )
        if not can_convert(current, estimate.invoice_id):
            return Verdict(409, "rules.conversion", f"estimate {estimate_id} is {current}")
        return Verdict(201)

    def convert(self, estimate_id: int, invoice_id: int, number: str, due_date: str | None = None) -> Invoice:
        """Apply a conversion: a DRAFT invoice with the estimate's customer, lines, discount; the estimate ACCEPTED."""
        estimate = self.estimates[estimate_id]
        invoice = Invoice(
            id=invoice_id,
            customer_id=estimate.customer_id,
            number=number,
            lines=list(estimate.lines),
            discount_type=estimate.discount_type,
            discount=estimate.discount,
            due_date=due_date,
            estimate_id=estimate_id,
        )
        self.invoices[invoice_id] = invoice
        estimate.status = "ACCEPTED"
        estimate.invoice_id = invoice_id
        return invoice

    def delete_estimate_verdict(self, estimate_id: int) -> Verdict:
        """A converted estimate cannot be deleted (409)."""
        estimate = self.estimates[estimate_id]
        if estimate.invoice_id is not None:
            return Verdict(
                409, "rules.integrity", f"estimate {estimate_id} was converted to invoice {estimate.invoice_id}"
            )
        return Verdict(204)
