"""The invoicing rules as pure functions and tables (API.md, openapi.yaml): money, lifecycles, numbering.

The arithmetic mirrors the spec exactly, in integer cents with one rounding rule (half up):

    line.total   = round_half_up(quantity * price)
    sub_total    = sum(line.total)
    discount_val = discount (fixed, cents) | round_half_up(sub_total * discount / 100) (percentage)
    tax          = sum(round_half_up(line.total * line.tax_rate / 100))
    total        = sub_total - discount_val + tax
    due_amount   = total - sum(payments applied to the invoice)

and the lifecycles are tables of allowed transitions. ``contracts.model`` applies them to what a
client created. Generated numbers follow the spec's ``x-sandbox-sequence`` (``Numbering``), read at run time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# ---------------------------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------------------------

Number = int | float | str | Decimal

FIXED = "fixed"
PERCENTAGE = "percentage"


def to_decimal(value: Number | None) -> Decimal:
    """A JSON number (or None, meaning 0) as an exact Decimal (floats through their shortest repr)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def round_half_up(value: Decimal) -> int:
    """Whole cents, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_total(quantity: Number, price: Number) -> int:
    """A line's total: ``round_half_up(quantity * price)``."""
    return round_half_up(to_decimal(quantity) * to_decimal(price))


def line_tax(total: int, tax_rate: Number | None) -> int:
    """The tax of one line: ``round_half_up(total * tax_rate / 100)``."""
    return round_half_up(Decimal(total) * to_decimal(tax_rate) / 100)


def discount_value(sub_total: int, discount_type: str, discount: Number | None) -> int:
    """``discount_val``: the fixed discount in cents, or a percentage of the sub total rounded half up."""
    if discount_type == PERCENTAGE:
        return round_half_up(Decimal(sub_total) * to_decimal(discount) / 100)
    return round_half_up(to_decimal(discount))


@dataclass(frozen=True)
class Line:
    """One line of an invoice or estimate as the client sent it."""

    name: str
    quantity: Decimal
    price: int
    tax_rate: Decimal | None = None

    @property
    def total(self) -> int:
        """``round_half_up(quantity * price)``."""
        return line_total(self.quantity, self.price)

    @property
    def tax(self) -> int:
        """This line's tax."""
        return line_tax(self.total, self.tax_rate)

    def to_json(self) -> dict[str, Any]:
        """The line as a request body member (tax_rate left out when None: the server's default 0)."""
        body: dict[str, Any] = {"name": self.name, "quantity": json_number(self.quantity), "price": self.price}
        if self.tax_rate is not None:
            body["tax_rate"] = json_number(self.tax_rate)
        return body


def json_number(value: Decimal) -> int | float:
    """A Decimal as the JSON number that carries it exactly (int when integral)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


@dataclass(frozen=True)
class Totals:
    """Every computed money field of a document."""

    line_totals: tuple[int, ...]
    sub_total: int
    discount_val: int
    tax: int
    total: int

    def as_dict(self) -> dict[str, int]:
        """The document-level fields, by their API names."""
        return {"sub_total": self.sub_total, "discount_val": self.discount_val, "tax": self.tax, "total": self.total}


def document_totals(lines: Sequence[Line], discount_type: str = FIXED, discount: Number | None = 0) -> Totals:
    """Line totals, sub_total, discount_val, tax and total of an invoice or estimate."""
    line_totals = tuple(line.total for line in lines)
    sub_total = sum(line_totals)
    tax = sum(line_tax(total, line.tax_rate) for total, line in zip(line_totals, lines, strict=True))
    discount_val = discount_value(sub_total, discount_type, discount)
    return Totals(line_totals, sub_total, discount_val, tax, sub_total - discount_val + tax)


def totals_problem(lines: Sequence[Line], discount_type: str = FIXED, discount: Number | None = 0) -> str | None:
    """Why the server must refuse these lines and discount (422), or None: a discount above the sub total."""
    if discount_type == PERCENTAGE and to_decimal(discount) > 100:
        return f"a percentage discount of {discount} is above 100"
    totals = document_totals(lines, discount_type, discount)
    if totals.discount_val > totals.sub_total:
        return f"the discount ({totals.discount_val}) exceeds the sub total ({totals.sub_total})"
    return None


def due_amount(total: int, payments: Iterable[int]) -> int:
    """``total`` minus the payments applied to the invoice."""
    return total - sum(payments)


def paid_status(total: int, due: int) -> str:
    """UNPAID (nothing paid), PARTIALLY_PAID, or PAID (nothing due)."""
    if due <= 0:
        return "PAID"
    return "UNPAID" if due >= total else "PARTIALLY_PAID"


# ---------------------------------------------------------------------------------------------
# Lifecycles
# ---------------------------------------------------------------------------------------------

INVOICE_STATUSES = ("DRAFT", "SENT", "VIEWED", "OVERDUE", "COMPLETED")
ESTIMATE_STATUSES = ("DRAFT", "SENT", "ACCEPTED", "REJECTED", "EXPIRED")

# action -> (statuses it is allowed from, status it leads to)
INVOICE_ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "send": (frozenset({"DRAFT"}), "SENT"),
    "complete": (frozenset({"DRAFT", "SENT", "VIEWED", "OVERDUE"}), "COMPLETED"),
    "uncomplete": (frozenset({"COMPLETED"}), "SENT"),
}
ESTIMATE_ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "send": (frozenset({"DRAFT"}), "SENT"),
    "accept": (frozenset({"SENT"}), "ACCEPTED"),
    "reject": (frozenset({"SENT"}), "REJECTED"),
}
CONVERTIBLE = frozenset({"DRAFT", "SENT", "ACCEPTED"})
OPEN_INVOICE = frozenset({"SENT", "VIEWED", "OVERDUE"})
OPEN_ESTIMATE = frozenset({"DRAFT", "SENT"})


def invoice_transition(action: str, status: str) -> str | None:
    """The status an invoice action leads to, or None when the current status does not allow it (409)."""
    allowed, to = INVOICE_ACTIONS[action]
    return to if status in allowed else None


def estimate_transition(action: str, status: str) -> str | None:
    """The status an estimate action leads to, or None when the current status does not allow it (409)."""
    allowed, to = ESTIMATE_ACTIONS[action]
    return to if status in allowed else None


def can_convert(status: str, invoice_id: int | None) -> bool:
    """``convert`` is allowed from DRAFT, SENT or ACCEPTED, once."""
    return invoice_id is None and status in CONVERTIBLE


def status_after_payments(status: str, was_paid: bool, now_paid: bool) -> str:
    """Paid in full, an invoice becomes COMPLETED unless DRAFT; unpaid again, a COMPLETED one reopens as SENT."""
    if now_paid and not was_paid and status != "DRAFT":
        return "COMPLETED"
    if was_paid and not now_paid and status == "COMPLETED":
        return "SENT"
    return status


def invoice_status_on(status: str, due_date: str | None, today: dt.date | None, paid: str) -> str:
    """The status an invoice shows on ``today``: OVERDUE while open, not paid and past its due date."""
    if status not in OPEN_INVOICE or today is None:
        return status
    if due_date and due_date < today.isoformat() and paid != "PAID":
        return "OVERDUE"
    return "SENT" if status == "OVERDUE" else status


def estimate_status_on(status: str, expiry_date: str | None, today: dt.date | None) -> str:
    """The status an estimate shows on ``today``: EXPIRED while DRAFT or SENT and past its expiry date."""
    if today is not None and status in OPEN_ESTIMATE and expiry_date and expiry_date < today.isoformat():
        return "EXPIRED"
    return status


# ---------------------------------------------------------------------------------------------
# Numbering
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Numbering:
    """A generated number field and the pattern its values follow (read from the spec's ``x-sandbox-sequence``)."""

    field: str
    pattern: re.Pattern[str]


def number_problem(numbering: Numbering, number: Any, taken: Iterable[str]) -> str | None:
    """Why a generated number is wrong (pattern, or already used by another record), or None."""
    if not isinstance(number, str) or not numbering.pattern.match(number):
        return f"{numbering.field} {number!r} does not match {numbering.pattern.pattern}"
    if number in set(taken):
        return f"{numbering.field} {number} was generated twice"
    return None
