"""What the state machine draws: invoice lines, discounts, payment kinds, and the request bodies built from them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from contracts import model as m

LINE_NAMES = ("Design", "Hosting", "Consulting", "Support")
QUANTITIES = st.builds(lambda n, d: Decimal(n) / Decimal(d), st.integers(1, 40), st.sampled_from((1, 2, 4, 10)))
TAX_RATES = st.sampled_from((None, Decimal(0), Decimal(5), Decimal("8.25"), Decimal(20)))
LINES = st.lists(
    st.builds(
        m.Line,
        name=st.sampled_from(LINE_NAMES),
        quantity=QUANTITIES,
        price=st.integers(100, 250_000),
        tax_rate=TAX_RATES,
    ),
    min_size=1,
    max_size=4,
)
# (kind, n): none; fixed = n% of the sub total in cents; percentage = n/2 %; too_large = sub total + 1 + n cents.
DISCOUNTS = st.tuples(st.sampled_from(("none", "fixed", "percentage", "too_large")), st.integers(0, 90))
PAYMENT_KINDS = st.sampled_from(("part", "full", "over", "zero", "other_customer"))


def discount_fields(kind: str, n: int, lines: Sequence[m.Line]) -> tuple[str, Decimal]:
    """``discount_type`` and ``discount`` for a drawn (kind, n) and the lines it applies to."""
    sub_total = m.document_totals(lines).sub_total
    if kind == "fixed":
        return m.FIXED, Decimal(sub_total * n // 100)
    if kind == "percentage":
        return m.PERCENTAGE, Decimal(n) / 2
    if kind == "too_large":
        return m.FIXED, Decimal(sub_total + 1 + n)
    return m.FIXED, Decimal(0)


def document_body(lines: Sequence[m.Line], discount_type: str, discount: Decimal, *, explicit: bool) -> dict[str, Any]:
    """Items and (when explicit or non-zero) the discount of a request body."""
    body: dict[str, Any] = {"items": [line.to_json() for line in lines]}
    if explicit or discount:
        body["discount_type"] = discount_type
        body["discount"] = m.json_number(discount)
    return body
