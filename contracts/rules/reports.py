"""The reports check: the financial report (``getFinancialReport``) moves by exactly what the check itself books."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from contracts.checking import Broken, Skip
from contracts.results import Failure
from contracts.rules.common import MISSING, data_of, rows_of
from contracts.rules.context import Context, Findings

REPORT_OPERATION = "getFinancialReport"  # the operationId of the domain's financial report


def check_reports(ctx: Context) -> list[Failure]:
    """The financial report moves by exactly an expense and a payment created in the current period."""
    rule = "rules.reports"
    found = Findings(ctx)
    where = ctx.paths.operation(REPORT_OPERATION)
    periods: list[dict[str, int]] = [{"year": ctx.today.year}, {"year": ctx.today.year, "month": ctx.today.month}]

    def report(params: Mapping[str, int]) -> tuple[requests.Response, dict[str, Any]]:
        response = ctx.api.call("GET", where, params=params)
        if response.status_code in MISSING:
            raise Skip(f"GET {where} answered {response.status_code}")
        data = data_of(response)
        if response.status_code != 200 or not isinstance(data, dict):
            raise Broken(ctx.api.failure(rule, f"GET {where} must answer 200 with a report", response))
        return response, data

    currency = _currency_id(ctx, rule, report(periods[0])[1].get("currency"))
    category = _first_id(ctx, rule, ctx.paths.collection("expense-categories"))
    customer = ctx.customer(rule, f"Report {ctx.token('report')}")
    invoice = ctx.invoice(rule, customer, (ctx.rng.randrange(500_000, 900_000),))
    ctx.do(rule, "POST", ctx.paths.action("invoices", "send", invoice["id"]), 200)
    before = [report(period)[1] for period in periods]
    paid = ctx.rng.randrange(10_000, 400_000)
    spent = ctx.rng.randrange(10_000, 400_000)
    ctx.create(
        rule,
        ctx.paths.collection("expenses"),
        {"expense_date": ctx.day(), "expense_category_id": category, "amount": spent, "currency_id": currency},
    )
    ctx.create(
        rule,
        ctx.paths.collection("payments"),
        {"customer_id": customer, "invoice_id": invoice["id"], "amount": paid, "payment_date": ctx.day()},
    )
    for period, old in zip(periods, before, strict=True):
        response, new = report(period)
        moves = {"income": paid, "expenses": spent, "profit": paid - spent, "outstanding": -paid}
        wrong = []
        for name, delta in moves.items():
            if not isinstance(new.get(name), int) or not isinstance(old.get(name), int):
                wrong.append(f"{name} is missing")
            elif new[name] - old[name] != delta:
                wrong.append(f"{name}: expected {old[name]} {delta:+d} = {old[name] + delta}, got {new[name]}")
        sums = isinstance(new.get("income"), int) and isinstance(new.get("expenses"), int)
        if sums and new.get("profit") != new["income"] - new["expenses"]:
            wrong.append(f"profit {new.get('profit')!r} != income {new['income']} - expenses {new['expenses']}")
        if wrong:
            label = "&".join(f"{k}={v}" for k, v in period.items())
            found.add(
                rule,
                f"after an expense of {spent} and a payment of {paid} dated {ctx.day()}, "
                f"{where}?{label}: " + "; ".join(wrong),
                response,
            )
    return found.failures


def _first_id(ctx: Context, rule: str, path: str) -> int:
    rows = rows_of(ctx.listing(rule, path, {"limit": 1}))
    if not rows or not isinstance(rows[0].get("id"), int):
        raise Skip(f"GET {path} has no record to use")
    return int(rows[0]["id"])


def _currency_id(ctx: Context, rule: str, code: Any) -> int:
    currencies = ctx.paths.collection("currencies")
    rows = rows_of(ctx.listing(rule, currencies, {}))
    for row in rows:
        if row.get("code") == code and isinstance(row.get("id"), int):
            return int(row["id"])
    if rows and isinstance(rows[0].get("id"), int):
        return int(rows[0]["id"])
    raise Skip(f"GET {currencies} has no currency to use")
