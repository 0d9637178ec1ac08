"""Money fields keep their precision and shape: integer minor units in, the same integer out, on every resource.

A money field is an integer the spec documents as minor units (``cents``), or marks
``x-sandbox-kind: money`` (see ``catalog.is_money``). For each writable one, a record created with an
amount a float would round (2**53 + 1, else the schema's maximum), else an odd one, reads back with
exactly that integer, in the create's answer and in GET; and every money field a record shows, computed
ones included, is a JSON integer (``100``, never ``100.0`` or ``"1.00"``). A value the target refuses for
a business reason (a payment above what is due) is tried smaller; none taken is noted, not passed.
"""

from __future__ import annotations

from typing import Any

from contracts.results import Failure
from contracts.rules.catalog import Catalog, Kind
from contracts.rules.common import Skip
from contracts.rules.context import Context, Findings
from contracts.security.spec_view import Schema

RULE = "rules.money"
PAST_FLOAT = 2**53 + 1  # the first integer a double cannot hold
ODD = 123_457


def check_money(ctx: Context) -> list[Failure]:
    """Money written comes back to the cent, and every money field is an integer."""
    catalog = ctx.catalog
    kinds = [kind for kind in catalog.kinds.values() if kind.money]
    if not kinds:
        raise Skip("the spec marks no money field (an integer in minor units / cents, or x-sandbox-kind: money)")
    found = Findings(ctx)
    checked = 0
    for kind in kinds:
        for name in kind.money:
            if name in kind.writable:
                checked += _round_trip(catalog, found, kind, name)
    if not checked:
        raise Skip("no money field could be written: " + "; ".join(ctx.notes[:6]))
    return found.failures


def amounts(prop: Schema) -> list[int]:
    """Amounts to try, hardest first: past a double's precision (or the maximum), then odd, then the least."""
    low = prop.get("minimum")
    high = prop.get("maximum")
    least = int(low) + (1 if prop.get("exclusiveMinimum") is True else 0) if isinstance(low, int | float) else 1
    top = int(high) if isinstance(high, int | float) else PAST_FLOAT
    tries = [top, ODD, max(least, 1)]
    return list(dict.fromkeys(v for v in tries if v >= least and v <= top))


def _round_trip(catalog: Catalog, found: Findings, kind: Kind, name: str) -> int:
    """Create a record with each amount until one is taken; it must read back exactly."""
    for amount in amounts(kind.writable[name]):
        body = catalog.body(kind, {name: amount})
        if body is None:
            break
        response, record = catalog.post(kind, body)
        if record is None:
            continue
        _same(found, kind, name, amount, record, response, "the create's answer")
        get_answer, stored = catalog.read(kind, kind.res.id_of(record))
        if stored is not None:
            _same(found, kind, name, amount, stored, get_answer, "GET")
            for other in kind.money:
                value = stored.get(other)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    found.add(RULE, f"{kind.name} {other} is {value!r}, not an integer of minor units", get_answer)
        return 1
    found.note(f"{kind.res.collection} {name}: no amount was taken")
    return 0


def _same(found: Findings, kind: Kind, name: str, sent: int, record: Any, response: Any, where: str) -> None:
    value = record.get(name) if isinstance(record, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value != sent:
        found.add(RULE, f"{kind.name} {name} sent as {sent}: {where} shows {value!r}", response)
