"""Invoice and estimate arithmetic in integer cents, with one rounding rule: half up.

line.total   = round_half_up(quantity * price)
tax          = sum(round_half_up(line.total * line.tax_rate / 100))
discount_val = discount (fixed, cents) or round_half_up(sub_total * discount / 100) (percentage)
total        = sub_total - discount_val + tax
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from mockserver.errors import ValidationFailed

MAX_CENTS = 10**15
_EXACT = 10**26  # integers Decimal's 28 digits hold exactly (the integer fast paths stay below it)
_FLOAT_EXACT = 2**53  # floats below it that are whole convert to int exactly


def round_half_up(value: Decimal) -> int:
    """Round to whole cents, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def line_total(quantity: Any, price: Any) -> int:
    """A line item's total in cents (whole quantities in integers: the same result, without Decimal)."""
    if type(price) is int and _whole(quantity) and abs(total := int(quantity) * price) < _EXACT:
        return total
    return round_half_up(_decimal(quantity) * _decimal(price))


def line_tax(total: int, tax_rate: Any) -> int:
    """The tax on one line item, in cents (a whole rate in integers: the same result, without Decimal)."""
    if type(total) is int and type(tax_rate) is int and abs(hundredths := total * tax_rate) < _EXACT:
        return (hundredths + 50) // 100 if hundredths >= 0 else -((50 - hundredths) // 100)
    return round_half_up(Decimal(total) * _decimal(tax_rate) / 100)


def _whole(value: Any) -> bool:
    """An int, or a float that holds a whole number exactly (its digits are the float's own)."""
    if type(value) is int:
        return True
    return type(value) is float and value.is_integer() and abs(value) < _FLOAT_EXACT


def apply_totals(document: dict[str, Any]) -> None:
    """Compute line totals, sub_total, discount_val, tax and total of an invoice or estimate in place."""
    items = document.get("items") or []
    for position, item in enumerate(items, start=1):
        item.setdefault("id", position)
        item["total"] = line_total(item.get("quantity"), item.get("price"))
    sub_total = sum(item["total"] for item in items)
    tax = sum(line_tax(item["total"], item.get("tax_rate")) for item in items)
    discount = _decimal(document.get("discount"))
    if document.get("discount_type") == "percentage":
        discount_val = round_half_up(Decimal(sub_total) * discount / 100)
    else:
        discount_val = round_half_up(discount)
    errors: dict[str, list[str]] = {}
    if discount_val > sub_total:
        errors["discount"] = [f"The discount ({discount_val}) exceeds the sub total ({sub_total})."]
    total = sub_total - discount_val + tax
    if total > MAX_CENTS:
        errors["total"] = [f"The total exceeds the maximum of {MAX_CENTS} cents."]
    if errors:
        raise ValidationFailed(errors)
    document.update(sub_total=sub_total, discount_val=discount_val, tax=tax, total=total)


def paid_status(total: int, due: int) -> str:
    """UNPAID, PARTIALLY_PAID or PAID from what is still due."""
    if due <= 0:
        return "PAID"
    return "UNPAID" if due >= total else "PARTIALLY_PAID"


def sum_amounts(records: Iterable[Mapping[str, Any]], field: str = "amount") -> int:
    """The sum of an integer field over records (missing counts as zero)."""
    return sum(int(r.get(field) or 0) for r in records)
