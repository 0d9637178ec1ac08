"""A record's currency, when the client names none: the customer's currency, else the company's.

The spec says so in prose (``currency_id``: "Defaults to the customer's currency, else the company
currency"), so created, replaced and seeded records all carry one, as the documented ones do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver.behaviours.records import Derive
from mockserver.state.clock import Clock
from mockserver.store import Condition, Query, Record, Tenant

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

FIELD = "currency_id"
CURRENCIES = "currencies"
CUSTOMERS = "customers"


def install(engine: Engine) -> None:
    """Default ``currency_id`` on every resource whose records reference a currency with it."""
    for resource in engine.index.resources.values():
        if resource.refs.get(FIELD) != CURRENCIES:
            continue
        through_customer = resource.name != CUSTOMERS and resource.refs.get("customer_id") == CUSTOMERS
        engine.hooks.add_derive(resource.name, default_currency(engine, through_customer=through_customer))


def default_currency(engine: Engine, *, through_customer: bool) -> Derive:
    """A derive hook that fills a missing currency: the customer's (if asked), else the company's."""
    company_currency: dict[int, int | None] = {}  # by company: reference data, looked up once per app

    def derive(record: Record, tenant: Tenant, clock: Clock) -> None:
        if record.get(FIELD) is not None:
            return
        currency = None
        if through_customer and record.get("customer_id") is not None:
            customer = tenant.get(CUSTOMERS, record["customer_id"])
            currency = customer.get(FIELD) if customer is not None else None
        if currency is None:
            if tenant.company_id not in company_currency:
                code = (engine.company_profiles.get(tenant.company_id) or {}).get("currency")
                company_currency[tenant.company_id] = _currency_id(tenant, code)
            currency = company_currency[tenant.company_id]
        if currency is not None:
            record[FIELD] = currency

    return derive


def _currency_id(tenant: Tenant, code: object) -> int | None:
    """The id of the company's currency among the reference currencies (None when it has none listed)."""
    if not isinstance(code, str):
        return None
    found = tenant.find(CURRENCIES, Query(where=(Condition("code", "eq", code),), limit=1))
    identifier = found[0].get("id") if found else None
    return identifier if isinstance(identifier, int) else None
