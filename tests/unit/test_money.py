"""Unit and property tests for domains.invoicing.money: integer cents, rounding half up."""

from __future__ import annotations

import contextlib
import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domains.invoicing.money import (
    MAX_CENTS,
    apply_totals,
    line_tax,
    line_total,
    paid_status,
    round_half_up,
    sum_amounts,
)
from mockserver.errors import ValidationFailed

PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=300)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.5", 1), ("1.5", 2), ("2.5", 3), ("2.4999", 2), ("-0.5", -1), ("-2.5", -3), ("7", 7), ("0", 0)],
)
def test_round_half_up_rounds_halves_away_from_zero(value: str, expected: int) -> None:
    assert round_half_up(Decimal(value)) == expected


def test_line_total_is_quantity_times_price_rounded_half_up() -> None:
    assert line_total(10, 15000) == 150000
    assert line_total(1.5, 333) == 500  # 499.5
    assert line_total(0.1, 3) == 0  # 0.3, exact in decimal: no binary float drift
    assert line_total(2.675, 100) == 268  # 267.5, not 267.49999...
    assert line_total(None, 100) == 0


def test_line_tax_is_rounded_per_line() -> None:
    assert line_tax(150000, 8.5) == 12750
    assert line_tax(5, 10) == 1  # 0.5 rounds up
    assert line_tax(100, None) == 0


def invoice(**fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "items": [
            {"name": "Web Development", "quantity": 10, "price": 15000, "tax_rate": 8.5},
            {"name": "Hosting", "quantity": 1, "price": 12000},
        ]
    }
    document.update(fields)
    return document


def test_the_specs_create_invoice_example_adds_up() -> None:
    document = invoice(discount_type="percentage", discount=10)
    apply_totals(document)
    assert [item["total"] for item in document["items"]] == [150000, 12000]
    assert (document["sub_total"], document["discount_val"], document["tax"], document["total"]) == (
        162000,
        16200,
        12750,
        158550,
    )


def test_a_fixed_discount_is_in_cents() -> None:
    document = invoice(discount_type="fixed", discount=2000)
    apply_totals(document)
    assert document["discount_val"] == 2000
    assert document["total"] == 162000 - 2000 + 12750


def test_fixed_is_the_default_discount_type() -> None:
    document = invoice(discount=10)
    apply_totals(document)
    assert document["discount_val"] == 10


def test_a_percentage_discount_rounds_half_up() -> None:
    document = {"items": [{"quantity": 1, "price": 5}], "discount_type": "percentage", "discount": 10}
    apply_totals(document)
    assert document["discount_val"] == 1  # 0.5


def test_tax_is_summed_from_each_lines_rounded_tax() -> None:
    document = {"items": [{"quantity": 1, "price": 5, "tax_rate": 10}, {"quantity": 1, "price": 5, "tax_rate": 10}]}
    apply_totals(document)
    assert document["tax"] == 2  # 0.5 + 0.5, each rounded up, not round(1.0) of the sum


def test_tax_is_not_reduced_by_the_discount() -> None:
    document = invoice(discount_type="percentage", discount=100)
    apply_totals(document)
    assert document["discount_val"] == document["sub_total"]
    assert document["total"] == document["tax"] == 12750


def test_a_discount_above_the_sub_total_is_422() -> None:
    with pytest.raises(ValidationFailed) as caught:
        apply_totals(invoice(discount_type="fixed", discount=162001))
    assert caught.value.status == 422
    assert caught.value.errors is not None
    assert list(caught.value.errors) == ["discount"]
    assert "162001" in caught.value.errors["discount"][0]


def test_a_total_beyond_the_maximum_is_422() -> None:
    document = {"items": [{"quantity": 1_000_000, "price": 100_000_000_000}] * 20}
    with pytest.raises(ValidationFailed) as caught:
        apply_totals(document)
    assert caught.value.errors is not None
    assert "total" in caught.value.errors


def test_items_get_positional_ids_but_keep_their_own() -> None:
    document = {"items": [{"id": 7, "quantity": 1, "price": 1}, {"quantity": 1, "price": 1}]}
    apply_totals(document)
    assert [item["id"] for item in document["items"]] == [7, 2]


def test_a_document_without_items_totals_zero() -> None:
    document: dict[str, Any] = {"items": []}
    apply_totals(document)
    assert (document["sub_total"], document["tax"], document["total"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("total", "due", "expected"),
    [
        (1000, 1000, "UNPAID"),
        (1000, 400, "PARTIALLY_PAID"),
        (1000, 0, "PAID"),
        (0, 0, "PAID"),
        (1000, -5, "PAID"),
    ],
)
def test_paid_status_follows_the_due_amount(total: int, due: int, expected: str) -> None:
    assert paid_status(total, due) == expected


def test_sum_amounts_counts_missing_as_zero() -> None:
    assert sum_amounts([{"amount": 100}, {"amount": None}, {}, {"amount": 250}]) == 350
    assert sum_amounts([{"fee": 3}], field="fee") == 3


# --- properties --------------------------------------------------------------------------------------------

quantities = st.one_of(
    st.integers(min_value=1, max_value=1_000_000),
    st.floats(min_value=0.0001, max_value=1_000_000, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2).map(float),
)
line_items = st.fixed_dictionaries(
    {
        "quantity": quantities,
        "price": st.integers(min_value=0, max_value=100_000_000_000),
    },
    optional={"tax_rate": st.one_of(st.integers(0, 100), st.floats(min_value=0, max_value=100, allow_nan=False))},
)
documents = st.one_of(
    st.fixed_dictionaries(
        {
            "items": st.lists(line_items, min_size=0, max_size=8),
            "discount_type": st.just("percentage"),
            "discount": st.one_of(st.integers(0, 100), st.floats(min_value=0, max_value=100, allow_nan=False)),
        }
    ),
    st.fixed_dictionaries(
        {"items": st.lists(line_items, min_size=0, max_size=8)},
        optional={
            "discount_type": st.just("fixed"),
            "discount": st.one_of(st.integers(0, 10**9), st.integers(0, 100_000_000_000)),
        },
    ),
)


def expected_discount(document: dict[str, Any], sub_total: int) -> int:
    discount = Decimal(str(document.get("discount") or 0))
    if document.get("discount_type") == "percentage":
        return round_half_up(Decimal(sub_total) * discount / 100)
    return round_half_up(discount)


@PROPERTY
@given(documents)
def test_total_is_sub_total_minus_discount_plus_tax(document: dict[str, Any]) -> None:
    try:
        apply_totals(document)
    except ValidationFailed:
        return
    assert document["total"] == document["sub_total"] - document["discount_val"] + document["tax"]
    assert document["sub_total"] == sum(item["total"] for item in document["items"])
    assert document["tax"] == sum(line_tax(item["total"], item.get("tax_rate")) for item in document["items"])
    assert all(isinstance(document[k], int) for k in ("sub_total", "discount_val", "tax", "total"))


@PROPERTY
@given(documents)
def test_line_totals_are_never_negative(document: dict[str, Any]) -> None:
    with contextlib.suppress(ValidationFailed):
        apply_totals(document)
    assert all(item["total"] >= 0 for item in document["items"])
    assert all(item["total"] == line_total(item["quantity"], item["price"]) for item in document["items"])


@PROPERTY
@given(documents)
def test_the_discount_never_exceeds_the_sub_total_or_it_is_422(document: dict[str, Any]) -> None:
    original = copy.deepcopy(document)
    sub_total = sum(line_total(item["quantity"], item["price"]) for item in document["items"])
    wanted = expected_discount(document, sub_total)
    errors: dict[str, list[str]] = {}
    try:
        apply_totals(document)
    except ValidationFailed as failure:
        errors = failure.errors or {"(none)": []}
    if errors:
        assert set(errors) <= {"discount", "total"}
        assert ("discount" in errors) == (wanted > sub_total)
        assert "sub_total" not in document  # nothing half-applied
        return
    assert wanted <= sub_total
    assert 0 <= document["discount_val"] == wanted <= document["sub_total"]
    assert document["total"] >= 0
    assert document["total"] <= MAX_CENTS
    assert document.keys() - original.keys() <= {"sub_total", "discount_val", "tax", "total"}
