"""Every filter every list declares returns exactly what it names (``rules.filters``), on records it creates.

A filter is a list query parameter that names a field of the listed records (``status``,
``customer_id``, ``active``), or ``date_from``/``date_to`` over the records' ``x-sandbox-date-field``
(see ``catalog.Filter``). For each, a fresh record (R) is listed by its own value: every row must carry
that value (or lie within the bound) and R must be among them; a second fresh record (S) with another
value, where the create lets the field be chosen, must not. Rows are asked newest first (``sort=-id``)
where the list allows it, so the fresh records are on the first page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.results import Failure
from contracts.rules.catalog import Catalog, Filter, Kind
from contracts.rules.common import Skip
from contracts.rules.context import Context, Findings
from contracts.security.spec_view import flatten, main_type

RULE = "rules.filters"
PAGE = 100
FAR_DAYS = 400  # how far before the bound the outside record of a date filter is dated


def check_list_filters(ctx: Context) -> list[Failure]:
    """Each declared filter of each list: only matching rows, the matching fresh record among them."""
    catalog = ctx.catalog
    kinds = [kind for kind in catalog.kinds.values() if kind.filters]
    if not kinds:
        raise Skip("no list declares a filter that names a field of its records")
    found = Findings(ctx)
    checked = 0
    for kind in kinds:
        if kind.unmatched_filters:
            found.note(f"GET {kind.res.collection} {', '.join(kind.unmatched_filters)}: no record field to check by")
        for one in kind.filters:
            checked += _filter(catalog, found, kind, one)
    if not checked:
        raise Skip("no filter could be exercised: " + "; ".join(ctx.notes[:6]))
    return found.failures


def _filter(catalog: Catalog, found: Findings, kind: Kind, one: Filter) -> int:
    """List by a fresh record's own value; check the rows, and that a record with another value stays out."""
    where = f"GET {kind.res.collection}?{one.name}"
    base = catalog.body(kind)
    collection = kind.refs.get(one.field)
    if base is not None and collection is not None and base.get(one.field) is None:
        base[one.field] = catalog.fixtures.reference(collection, "full")  # an optional reference, set to filter by
    if base is not None and one.bound and base.get(one.field) is None and one.field in kind.writable:
        base[one.field] = catalog.today.isoformat()  # an optional date, set to filter by
    made = catalog.post(kind, base)[1] if base is not None else None
    _, inside = catalog.read(kind, kind.res.id_of(made)) if made is not None else (None, None)
    value = inside.get(one.field) if inside is not None else None
    if base is None or inside is None or value is None:
        found.note(f"{where}: no fresh record with a {one.field}")
        return 0
    if not fits(one.schema, value):
        found.note(f"{where}: the record's {one.field} ({_short(value)}) is no value of the parameter")
        return 0
    outside = _outside(catalog, kind, one, base, value)
    sent = _query_value(value)
    declared = _declared(kind)
    params: dict[str, Any] = {one.name: sent}
    if "limit" in declared:
        params["limit"] = PAGE
    if _newest_first(kind):
        params["sort"] = "-id"
    response, rows = catalog.listing(kind, params)
    if rows is None:
        found.add(RULE, f"{where}={sent} must answer 200 with a list", response)
        return 1
    wrong = [row for row in rows if isinstance(row, dict) and not _matches(one, row.get(one.field), value)]
    ids = [kind.res.id_of(row) for row in rows]
    if wrong:
        shown = ", ".join(f"{kind.res.id_of(row)} ({one.field} {row.get(one.field)!r})" for row in wrong[:5])
        found.add(RULE, f"{where}={sent} lists rows that do not match: {shown}", response)
    elif kind.res.id_of(inside) not in ids and ("sort" in params or ("limit" in params and len(rows) < PAGE)):
        found.add(RULE, f"{where}={sent}: {kind.name} {kind.res.id_of(inside)}, which has it, is not listed", response)
    elif outside is not None and outside in ids:
        found.add(RULE, f"{where}={sent} lists {kind.name} {outside}, created with another {one.field}", response)
    return 1


def _outside(catalog: Catalog, kind: Kind, one: Filter, base: dict[str, Any], value: Any) -> Any:
    """The id of a fresh record whose field the filter must leave out, when the create lets it be chosen."""
    prop = kind.writable.get(one.field)
    if prop is None:
        return None
    other = _other_value(catalog, kind, one, prop, value)
    if other is None:
        return None
    _, record = catalog.post(kind, {**base, one.field: other})
    if record is None:
        return None
    _, stored = catalog.read(kind, kind.res.id_of(record))
    shown = stored.get(one.field) if stored is not None else None
    return kind.res.id_of(record) if shown is not None and not _matches(one, shown, value) else None


def _other_value(catalog: Catalog, kind: Kind, one: Filter, prop: dict[str, Any], value: Any) -> Any:
    """A valid value of the field other than ``value`` (another enum value, the other boolean, an earlier date)."""
    if one.bound == ">=" and isinstance(value, str):
        return _shift(value, -FAR_DAYS)
    if one.bound:
        return None  # a later date may break the record's own date rules (due after issue); the bound is shown anyway
    enum = [v for v in flatten(prop).get("enum") or [] if v is not None and v != value]
    if enum:
        return enum[0]
    if main_type(flatten(prop)) == "boolean" and isinstance(value, bool):
        return not value
    collection = kind.refs.get(one.field)
    target = catalog.kind_at(collection) if collection else None
    if target is not None:
        body = catalog.body(target)
        made = catalog.post(target, body)[1] if body is not None else None
        return target.res.id_of(made) if made is not None else None
    return None


def fits(schema: dict[str, Any], value: Any) -> bool:
    """Whether a record's value can be sent as the filter parameter: a scalar of its type, in its enum."""
    if isinstance(value, dict | list):
        return False
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        return False
    kind = main_type(schema)
    types: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "integer": (int,),
        "number": (int, float),
        "boolean": (bool,),
    }
    return kind not in types or (isinstance(value, types[kind]) and (kind == "boolean") == isinstance(value, bool))


def _short(value: Any, size: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= size else text[: size - 3] + "..."


def _shift(day: str, days: int) -> str | None:
    try:
        return (dt.date.fromisoformat(day[:10]) + dt.timedelta(days=days)).isoformat()
    except ValueError:
        return None


def _declared(kind: Kind) -> set[str]:
    """The query parameters the list declares."""
    listing = kind.res.listing
    return {str(param.get("name")) for param in listing.query_params()} if listing is not None else set()


def _newest_first(kind: Kind) -> bool:
    """Whether the list declares ``sort=-id``."""
    listing = kind.res.listing
    for param in listing.query_params() if listing is not None else []:
        if param.get("name") == "sort":
            schema = flatten(param.get("schema") or {})
            return "-id" in (schema.get("enum") or []) or (not schema.get("enum") and "-" in str(schema))
    return False


def _query_value(value: Any) -> Any:
    """A record value as a query parameter (``true``/``false`` for booleans; a date of a timestamp)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _matches(one: Filter, shown: Any, value: Any) -> bool:
    """Whether a row's field satisfies the filter asked with ``value``."""
    if one.bound:
        if not isinstance(shown, str) or not isinstance(value, str):
            return False
        return shown[:10] >= value[:10] if one.bound == ">=" else shown[:10] <= value[:10]
    if isinstance(value, str) and isinstance(shown, str):
        return shown.lower() == value.lower() if value.isupper() or value.islower() else shown == value
    return bool(shown == value)
