"""Read-only views across resources: /search and /reports/financial."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING, Any

from mockserver.behaviours import listing
from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.registry import Behaviour
from mockserver.spec import Resource
from mockserver.store import Condition, Query

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

_TITLE_FIELDS = (
    "name",
    "invoice_number",
    "estimate_number",
    "payment_number",
    "expense_number",
    "subject",
    "title",
)


def search(call: Call, engine: Engine) -> Reply:
    """Case-insensitive substring search over the searchable resources the caller may read."""
    type_param = next((p for p in call.operation.parameters if p.name == "type"), None)
    searchable = list((type_param.schema.get("enum") if type_param else None) or engine.index.resources)
    wanted = call.param("type")
    readable = set(call.caller.scopes) if call.caller else None
    types = [t for t in searchable if (not wanted or t == wanted) and (readable is None or f"{t}:read" in readable)]
    needle = str(call.param("q", ""))
    page, limit = int(call.param("page", 1)), int(call.param("limit", 10))
    start = (page - 1) * limit
    hits: list[dict[str, Any]] = []
    total = 0
    for name in types:
        resource = engine.index.resources.get(name)
        if resource is None:
            continue
        matches = call.tenant.count(name, search=needle)
        wanted_from, wanted_to = max(start - total, 0), min(start + limit - total, matches)
        if wanted_from < wanted_to:
            query = Query(search=needle, offset=wanted_from, limit=wanted_to - wanted_from)
            hits.extend(_hit(resource, record) for record in call.tenant.find(name, query))
        total += matches
    links, meta = listing.paginate(hits, total, page, limit, call.url, call.query_pairs)
    return Reply(200, {"data": hits, "links": links, "meta": meta})


def _hit(resource: Resource, record: dict[str, Any]) -> dict[str, Any]:
    title_field = next((f for f in _TITLE_FIELDS if record.get(f)), None)
    title = str(record[title_field]) if title_field else f"{resource.name} {record.get(resource.id_field)}"
    subtitle = next(
        (str(record[f]) for f in resource.search_fields if f != title_field and record.get(f)),
        None,
    )
    return {"type": resource.name, "id": record.get(resource.id_field), "title": title, "subtitle": subtitle}


def financial_report(call: Call, engine: Engine) -> Reply:
    """Income (payments, INCOME transactions), expenses (expenses, EXPENSE transactions), profit, outstanding."""
    today = call.clock.today()
    year = int(call.param("year", today.year))
    month = call.param("month")
    if month is None:
        start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    else:
        start = dt.date(year, int(month), 1)
        end = dt.date(year, int(month), calendar.monthrange(year, int(month))[1])

    def within(field: str, *extra: Condition) -> list[Condition]:
        return [*listing.date_between(field, start.isoformat(), end.isoformat()), *extra]

    tenant = call.tenant
    income = tenant.total("payments", "amount", within("payment_date"))
    income += tenant.total("transactions", "amount", within("date", Condition("type", "eq", "INCOME")))
    expenses = tenant.total("expenses", "amount", within("expense_date"))
    expenses += tenant.total("transactions", "amount", within("date", Condition("type", "eq", "EXPENSE")))
    outstanding = tenant.total("invoices", "due_amount", within("invoice_date", Condition("status", "ne", "DRAFT")))
    company = call.caller.company if call.caller else {}
    return Reply(
        200,
        {
            "data": {
                "period": {"year": year, "month": month, "from": start.isoformat(), "to": end.isoformat()},
                "currency": company.get("currency", "USD"),
                "income": income,
                "expenses": expenses,
                "profit": income - expenses,
                "outstanding": outstanding,
            }
        },
    )


BEHAVIOURS: dict[str, Behaviour] = {
    "search": search,
    "getFinancialReport": financial_report,
}
