"""The reference model of the invoicing rules, on its own (no HTTP)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import model as m
from contracts.rules.catalog import sequence_pattern

D = Decimal


def line(quantity: str | int, price: int, tax_rate: str | int | None = None) -> m.Line:
    return m.Line("Line", D(str(quantity)), price, None if tax_rate is None else D(str(tax_rate)))


# -- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.5", 3), ("0.5", 1), ("1.4999", 1), ("1.5", 2), ("-2.5", -3), ("499.5", 500), ("7", 7)],
)
def test_round_half_up(value: str, expected: int) -> None:
    assert m.round_half_up(D(value)) == expected


def test_line_total_and_tax_round_half_up() -> None:
    assert m.line_total(1.5, 333) == 500  # 499.5
    assert m.line_total("0.1", 5) == 1  # 0.5
    assert m.line_total(D("2.75"), 101) == 278  # 277.75
    assert m.line_tax(1000, D("8.25")) == 83  # 82.5
    assert m.line_tax(1000, None) == 0
    assert m.line_total(0.1, 3) == 0  # floats go through their shortest repr: 0.3


def test_the_spec_example_invoice() -> None:
    lines = [line(10, 15000, "8.5"), line(1, 12000)]
    totals = m.document_totals(lines, m.PERCENTAGE, 10)
    assert totals == m.Totals((150000, 12000), 162000, 16200, 12750, 158550)
    assert totals.as_dict() == {"sub_total": 162000, "discount_val": 16200, "tax": 12750, "total": 158550}


def test_discounts() -> None:
    lines = [line(1, 999)]
    assert m.document_totals(lines, m.FIXED, 99).discount_val == 99
    assert m.document_totals(lines, m.PERCENTAGE, D("12.5")).discount_val == 125  # 124.875
    assert m.document_totals(lines).discount_val == 0
    assert m.totals_problem(lines, m.FIXED, 999) is None
    assert "exceeds the sub total" in (m.totals_problem(lines, m.FIXED, 1000) or "")
    assert "above 100" in (m.totals_problem(lines, m.PERCENTAGE, 101) or "")


def test_tax_is_on_the_line_total_before_the_discount() -> None:
    totals = m.document_totals([line(1, 10000, 20)], m.FIXED, 5000)
    assert (totals.sub_total, totals.discount_val, totals.tax, totals.total) == (10000, 5000, 2000, 7000)


def test_line_json_keeps_numbers_exact() -> None:
    assert line("1.5", 100, "8.25").to_json() == {"name": "Line", "quantity": 1.5, "price": 100, "tax_rate": 8.25}
    assert line(2, 100).to_json() == {"name": "Line", "quantity": 2, "price": 100}
    assert m.json_number(D("3.0")) == 3


def test_due_and_paid_status() -> None:
    assert m.due_amount(1000, [300, 200]) == 500
    assert m.paid_status(1000, 1000) == "UNPAID"
    assert m.paid_status(1000, 1) == "PARTIALLY_PAID"
    assert m.paid_status(1000, 0) == "PAID"


# -- lifecycles -------------------------------------------------------------------------------


def test_invoice_transitions() -> None:
    assert m.invoice_transition("send", "DRAFT") == "SENT"
    assert all(m.invoice_transition("send", s) is None for s in ("SENT", "VIEWED", "OVERDUE", "COMPLETED"))
    for status in ("DRAFT", "SENT", "VIEWED", "OVERDUE"):
        assert m.invoice_transition("complete", status) == "COMPLETED"
    assert m.invoice_transition("complete", "COMPLETED") is None
    assert m.invoice_transition("uncomplete", "COMPLETED") == "SENT"
    assert all(m.invoice_transition("uncomplete", s) is None for s in ("DRAFT", "SENT", "VIEWED", "OVERDUE"))


def test_estimate_transitions_and_conversion() -> None:
    assert m.estimate_transition("send", "DRAFT") == "SENT"
    assert m.estimate_transition("accept", "SENT") == "ACCEPTED"
    assert m.estimate_transition("reject", "SENT") == "REJECTED"
    assert m.estimate_transition("accept", "DRAFT") is None
    assert m.estimate_transition("reject", "ACCEPTED") is None
    assert all(m.can_convert(s, None) for s in ("DRAFT", "SENT", "ACCEPTED"))
    assert not m.can_convert("REJECTED", None)
    assert not m.can_convert("EXPIRED", None)
    assert not m.can_convert("ACCEPTED", 12)


def test_status_follows_payments() -> None:
    assert m.status_after_payments("SENT", was_paid=False, now_paid=True) == "COMPLETED"
    assert m.status_after_payments("DRAFT", was_paid=False, now_paid=True) == "DRAFT"
    assert m.status_after_payments("COMPLETED", was_paid=True, now_paid=False) == "SENT"
    assert m.status_after_payments("SENT", was_paid=False, now_paid=False) == "SENT"


def test_the_clock() -> None:
    today = dt.date(2026, 6, 15)
    assert m.invoice_status_on("SENT", "2026-06-14", today, "UNPAID") == "OVERDUE"
    assert m.invoice_status_on("SENT", "2026-06-15", today, "UNPAID") == "SENT"
    assert m.invoice_status_on("VIEWED", "2026-06-01", today, "PAID") == "VIEWED"
    assert m.invoice_status_on("DRAFT", "2026-06-01", today, "UNPAID") == "DRAFT"
    assert m.invoice_status_on("OVERDUE", "2026-07-01", today, "UNPAID") == "SENT"
    assert m.estimate_status_on("SENT", "2026-06-14", today) == "EXPIRED"
    assert m.estimate_status_on("ACCEPTED", "2026-06-14", today) == "ACCEPTED"
    assert m.estimate_status_on("DRAFT", None, today) == "DRAFT"


def test_numbers() -> None:
    invoices = m.Numbering("invoice_number", sequence_pattern("INV-{:06d}"))
    assert m.number_problem(invoices, "INV-000001", {"INV-000002"}) is None
    assert "does not match" in (m.number_problem(invoices, "INV-1", set()) or "")
    assert "does not match" in (m.number_problem(invoices, None, set()) or "")
    assert "twice" in (m.number_problem(invoices, "INV-000007", {"INV-000007"}) or "")


# -- the model's state ------------------------------------------------------------------------


def make_model() -> tuple[m.Model, m.Invoice]:
    model = m.Model(today=dt.date(2026, 6, 15))
    model.customers[1] = m.Customer(1, "One")
    model.customers[2] = m.Customer(2, "Two")
    invoice = m.Invoice(10, 1, "INV-000010", [line(1, 1000)], due_date="2026-07-15")
    model.invoices[10] = invoice
    return model, invoice


def pay(model: m.Model, payment_id: int, amount: int, invoice_id: int = 10, customer: int = 1) -> m.Verdict:
    verdict = model.payment_verdict(customer, invoice_id, amount)
    if verdict.ok:
        model.add_payment(m.Payment(payment_id, customer, invoice_id, amount, f"PAY-{payment_id:06d}"))
    return verdict


def test_payments_move_the_due_and_the_status() -> None:
    model, invoice = make_model()
    model.invoice_action(10, "send")
    assert pay(model, 1, 400).ok
    assert (invoice.due, invoice.paid_status, invoice.status) == (600, "PARTIALLY_PAID", "SENT")
    assert pay(model, 2, 601).status == 422
    assert pay(model, 2, 600, customer=2).rule == "rules.payments"
    assert pay(model, 2, 0).status == 422
    assert pay(model, 2, 600).ok
    assert (invoice.due, invoice.paid_status, invoice.status) == (0, "PAID", "COMPLETED")
    assert model.invoice_action_verdict(10, "mark-paid").status == 409
    model.delete_payment(2)
    assert (invoice.due, invoice.paid_status, invoice.status) == (600, "PARTIALLY_PAID", "SENT")
    assert invoice.statuses_on(model.today) == {"SENT"}


def test_a_paid_draft_stays_draft_and_sending_it_is_open_to_either_reading() -> None:
    model, invoice = make_model()
    assert model.invoice_action_verdict(10, "mark-paid").ok
    model.invoice_action(10, "mark-paid", m.Payment(5, 1, 10, invoice.due, "PAY-000005"))
    assert (invoice.status, invoice.paid_status) == ("DRAFT", "PAID")
    model.invoice_action(10, "send")
    assert invoice.statuses_on(model.today) == {"SENT", "COMPLETED"}
    model.adopt_status(10, "COMPLETED")
    assert invoice.statuses_on(model.today) == {"COMPLETED"}


def test_unpaying_an_invoice_completed_by_hand_may_restore_completed() -> None:
    model, invoice = make_model()
    model.invoice_action(10, "complete")
    assert pay(model, 1, 1000).ok
    model.delete_payment(1)
    assert invoice.statuses_on(model.today) == {"SENT", "COMPLETED"}


def test_editing_a_reopened_paid_invoice_may_complete_it_again() -> None:
    model, invoice = make_model()
    model.invoice_action(10, "send")
    assert pay(model, 1, 1000).ok
    assert invoice.status == "COMPLETED"
    model.invoice_action(10, "uncomplete")
    assert (invoice.status, invoice.paid_status) == ("SENT", "PAID")
    assert model.edit_invoice_verdict(10, [line(2, 500)], m.FIXED, 0).ok
    model.edit_invoice(10, [line(2, 500)], m.FIXED, 0)
    assert invoice.statuses_on(model.today) == {"SENT", "COMPLETED"}
    model.edit_invoice(10, [line(2, 600)], m.FIXED, 0)
    assert (invoice.statuses_on(model.today), invoice.paid_status) == ({"SENT"}, "PARTIALLY_PAID")


def test_illegal_actions_are_409_naming_the_status() -> None:
    model, _ = make_model()
    verdict = model.invoice_action_verdict(10, "uncomplete")
    assert (verdict.status, verdict.rule) == (409, "rules.transitions")
    assert "DRAFT" in verdict.reason
    model.invoice_action(10, "complete")
    assert model.invoice_action_verdict(10, "complete").status == 409
    assert model.invoice_action_verdict(10, "send").status == 409
    with pytest.raises(ValueError, match="not allowed"):
        model.invoice_action(10, "send")
    model.invoice_action(10, "uncomplete")
    assert model.invoices[10].status == "SENT"


def test_edits() -> None:
    model, invoice = make_model()
    assert model.edit_invoice_verdict(10, [line(1, 10)], m.FIXED, 11).status == 422
    assert pay(model, 1, 500).ok
    below = model.edit_invoice_verdict(10, [line(1, 400)], m.FIXED, 0)
    assert (below.status, below.rule) == (422, "rules.payments")
    assert model.edit_invoice_verdict(10, [line(1, 500)], m.FIXED, 0).ok
    model.edit_invoice(10, [line(2, 250, 10)], m.FIXED, 0)
    assert (invoice.totals.total, invoice.due) == (550, 50)
    model.invoice_action(10, "complete")
    completed = model.edit_invoice_verdict(10, [line(1, 1)], m.FIXED, 0)
    assert completed.status == 409
    assert completed.accepts(409)
    assert completed.accepts(422)  # the edit is also below what was paid: either refusal is right
    assert not completed.accepts(200)


def test_integrity() -> None:
    model, _ = make_model()
    assert model.delete_customer_verdict(1).status == 409
    assert model.delete_customer_verdict(2).status == 204
    assert model.delete_invoice_verdict(10).status == 204
    assert pay(model, 1, 100).ok
    assert model.delete_invoice_verdict(10).status == 409
    model.delete_payment(1)
    model.delete_invoice(10)
    assert model.delete_customer_verdict(1).status == 204


def test_conversion() -> None:
    model, _ = make_model()
    model.estimates[3] = m.Estimate(3, 2, "EST-000003", [line("1.5", 333, 5)], m.PERCENTAGE, D(10))
    assert model.delete_customer_verdict(2).rule == "rules.integrity"
    assert model.convert_verdict(3).status == 201
    invoice = model.convert(3, 11, "INV-000011")
    assert (invoice.customer_id, invoice.estimate_id, invoice.status) == (2, 3, "DRAFT")
    assert invoice.totals == model.estimates[3].totals
    assert (model.estimates[3].status, model.estimates[3].invoice_id) == ("ACCEPTED", 11)
    twice = model.convert_verdict(3)
    assert (twice.status, twice.rule) == (409, "rules.conversion")
    assert model.delete_estimate_verdict(3).status == 409
    model.estimates[4] = m.Estimate(4, 2, "EST-000004", [line(1, 1)])
    model.estimate_action(4, "send")
    model.estimate_action(4, "reject")
    assert model.convert_verdict(4).status == 409
    assert model.estimate_action_verdict(4, "accept").status == 409
    assert model.numbers("invoices") == {"INV-000010", "INV-000011"}
    assert model.numbers("invoices", besides=11) == {"INV-000010"}


# -- properties -------------------------------------------------------------------------------

LINES = st.lists(
    st.builds(
        m.Line,
        name=st.just("Line"),
        quantity=st.decimals(min_value=D("0.01"), max_value=D(10000), places=2),
        price=st.integers(0, 10**9),
        tax_rate=st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=3)),
    ),
    min_size=1,
    max_size=8,
)
DISCOUNT = st.one_of(
    st.tuples(st.just(m.FIXED), st.integers(0, 10**12).map(D)),
    st.tuples(st.just(m.PERCENTAGE), st.decimals(min_value=0, max_value=100, places=2)),
)


def half_up(value: Fraction) -> int:
    """An independent oracle: round half away from zero on exact fractions."""
    return math.floor(value + Fraction(1, 2)) if value >= 0 else -math.floor(-value + Fraction(1, 2))


@given(LINES, DISCOUNT)
def test_total_is_sub_total_minus_discount_plus_tax(lines: list[m.Line], discount: tuple[str, Decimal]) -> None:
    totals = m.document_totals(lines, *discount)
    assert totals.total == totals.sub_total - totals.discount_val + totals.tax
    assert totals.sub_total == sum(totals.line_totals)
    assert totals.tax == sum(m.line_tax(t, ln.tax_rate) for t, ln in zip(totals.line_totals, lines, strict=True))
    for total, ln in zip(totals.line_totals, lines, strict=True):
        assert total == half_up(Fraction(ln.quantity) * ln.price)
    if discount[0] == m.PERCENTAGE:
        assert totals.discount_val == half_up(Fraction(totals.sub_total) * Fraction(discount[1]) / 100)
    if m.totals_problem(lines, *discount) is None:
        assert 0 <= totals.discount_val <= totals.sub_total
        assert totals.total >= totals.tax >= 0


@given(
    LINES,
    st.lists(
        st.tuples(st.sampled_from(["pay", "delete", "mark-paid"]), st.integers(-5, 10**10), st.booleans()),
        max_size=30,
    ),
)
def test_due_is_never_negative_and_paid_status_follows_it(
    lines: list[m.Line], operations: list[tuple[str, int, bool]]
) -> None:
    model = m.Model(today=dt.date(2026, 6, 15))
    model.customers[1] = m.Customer(1, "One")
    invoice = m.Invoice(1, 1, "INV-000001", lines, due_date="2026-07-15")
    model.invoices[1] = invoice
    next_id = 1
    for operation, amount, sent in operations:
        if sent and invoice.status == "DRAFT":
            model.invoice_action(1, "send")
        if operation == "delete" and model.payments:
            model.delete_payment(min(model.payments))
        elif operation == "mark-paid":
            if model.invoice_action_verdict(1, "mark-paid").ok:
                model.invoice_action(1, "mark-paid", m.Payment(next_id, 1, 1, invoice.due, f"PAY-{next_id:06d}"))
                next_id += 1
        elif model.payment_verdict(1, 1, amount).ok:
            model.add_payment(m.Payment(next_id, 1, 1, amount, f"PAY-{next_id:06d}"))
            next_id += 1
        assert 0 <= invoice.due <= invoice.totals.total
        assert invoice.due == invoice.totals.total - sum(p.amount for p in model.payments.values())
        assert invoice.paid_status == m.paid_status(invoice.totals.total, invoice.due)
        if invoice.paid_status == "PAID" and invoice.status != "DRAFT":
            assert "COMPLETED" in invoice.statuses_on(model.today)
