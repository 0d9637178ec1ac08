"""Turn a list operation's parameters into a store query, and a page of results into links and meta."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mockserver.errors import BadRequest
from mockserver.spec import Operation, Parameter, Resource
from mockserver.spec.pages import Style, decode_cursor, param_role
from mockserver.spec.resolve import admitted_types, schema_types
from mockserver.store import Condition, Operator, Order, Query

CONTROL_PARAMS = frozenset({"page", "limit", "sort", "search", "q", "date_from", "date_to", "offset"})


_RANGE: dict[str, Operator] = {"gt": "gt", "gte": "ge", "lt": "lt", "lte": "le"}  # a range filter's bounds


def conditions(resource: Resource, operation: Operation, params: dict[str, Any]) -> list[Condition]:
    """A condition for each filter parameter the caller sent (a list value matches any of its values)."""
    properties = resource.schema.get("properties") or {}
    found: list[Condition] = []
    for parameter in operation.parameters:
        name = parameter.name
        if parameter.location != "query" or name in CONTROL_PARAMS or name not in params or name not in properties:
            continue
        if param_role(name) is not None and parameter.schema is not properties[name]:
            continue  # ``limit``, ``cursor`` and their kin page the list; they filter only when they are the field
        wanted = params[name]
        bounds = _RANGE.keys() & wanted.keys() if isinstance(wanted, dict) else set()
        if bounds and len(bounds) == len(wanted):  # Stripe's ``created[gt]=80``: a range, not a value
            found.extend(Condition(name, _RANGE[bound], wanted[bound]) for bound in sorted(bounds))
        else:
            found.append(equality(name, wanted, properties[name]))
    date_field = resource.date_field
    if date_field and (params.get("date_from") or params.get("date_to")):
        found.extend(date_between(date_field, params.get("date_from"), params.get("date_to")))
    return found


def equality(name: str, wanted: Any, schema: Any) -> Condition:
    """Field equals the value (or one of the values); an array field contains it; an object's name is it."""
    options = list(wanted) if isinstance(wanted, list) else [wanted]
    types = schema_types(schema) if isinstance(schema, dict) else frozenset()
    if "array" in types:
        return Condition(name, "contains", options)
    if "object" in types:
        return Condition(name, "name_eq", options)
    if len(options) == 1:
        return Condition(name, "eq", options[0])
    return Condition(name, "in", options)


def date_between(field: str, low: Any, high: Any) -> list[Condition]:
    """The record's date (the day part of a date or date-time) is within ``low``..``high``, either optional."""
    found = [Condition(field, "ge", str(low))] if low else []
    if high:
        found.append(Condition(field, "le", f"{high}T99"))  # any time of that day, and the bare date
    return found


def order(sort: str | None) -> Order | None:
    """``field`` or ``-field`` (nulls last either way, ties broken by id); None keeps id order."""
    if not sort:
        return None
    return Order(sort.lstrip("-+"), descending=sort.startswith("-"))


def query(resource: Resource, operation: Operation, params: dict[str, Any], *extra: Condition) -> Query:
    """The whole store query of a list call, unpaginated."""
    text = params.get("search")
    return Query(
        where=(*conditions(resource, operation, params), *extra),
        search=str(text) if text else None,
        order=order(params.get("sort")),
    )


@dataclass(frozen=True)
class PageRequest:
    """How a list call asks for its page: the style, the position and size, the parameter that moves it."""

    style: Style = "none"
    offset: int = 0
    limit: int | None = None
    param: str | None = None
    after: Any = None  # a record id: the rows after it (Stripe's ``starting_after``), or before it
    first_page: int = 1


def page_request(operation: Operation, params: dict[str, Any]) -> PageRequest:
    """The page a list call asks for, from the pagination parameters its operation declares (400 if unusable)."""
    roles: dict[str, Any] = {}
    for parameter in operation.parameters:
        role = _typed_role(parameter) if parameter.location == "query" else None
        if role is not None:
            roles.setdefault(role, parameter)
    if not roles:
        return PageRequest()
    limit_param = roles.get("limit")
    unpaged = limit_param is not None and set(roles) == {"limit"} and "default" not in limit_param.schema
    if unpaged and limit_param is not None and params.get(limit_param.name) is None:
        return PageRequest()  # nothing moves past a first page: a cut at a made-up size would hide records
    default = limit_param.schema.get("default", 10) if limit_param is not None else 10
    limit = _number(limit_param.name if limit_param else None, params, default)
    if limit < 1 and limit_param is not None and "minimum" not in limit_param.schema:
        limit = default  # Stripe's ``limit`` is any integer: a size the schema allows but no page can have
    if limit < 1:
        raise BadRequest(f"The query parameter '{limit_param.name if limit_param else 'limit'}' must be at least 1.")
    if "page" in roles:
        page_param = roles["page"]
        first = 0 if page_param.schema.get("minimum", page_param.schema.get("default", 1)) == 0 else 1
        page = _number(page_param.name, params, first)
        return PageRequest("page", max(page - first, 0) * limit, limit, page_param.name, first_page=first)
    if "offset" in roles:
        return PageRequest("offset", max(_number(roles["offset"].name, params, 0), 0), limit, roles["offset"].name)
    if "cursor" in roles:
        name = roles["cursor"].name
        sent = params.get(name)
        offset = decode_cursor(str(sent)) if sent not in (None, "") else 0
        if offset is None:
            raise BadRequest(f"The query parameter '{name}' is not a cursor this API returned.")
        return PageRequest("cursor", offset, limit, name)
    for role in ("before", "after"):
        if role in roles and params.get(roles[role].name) not in (None, ""):
            return PageRequest(role, 0, limit, roles[role].name, after=params[roles[role].name])  # type: ignore[arg-type]
    after = roles.get("after")
    return PageRequest("after" if after else "page", 0, limit, after.name if after else None)


def _typed_role(parameter: Parameter) -> str | None:
    """A query parameter's pagination role by its name, as its type allows: a text ``offset`` is a cursor.

    Asana's ``offset`` is an opaque token (``type: string``): read as a number, every value was refused.
    """
    role = param_role(parameter.name)
    if role in ("offset", "page", "limit"):
        types = admitted_types(parameter.schema) - {"null"}
        if types and not types & {"integer", "number"}:
            return "cursor" if role != "limit" else None
    return role


def _number(name: str | None, params: dict[str, Any], default: Any) -> int:
    value = params.get(name, default) if name else default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"The query parameter '{name}' must be a whole number.") from None


def paginate(
    chunk: Sequence[Any],
    total: int,
    page: int,
    limit: int,
    url: str,
    query_pairs: list[tuple[str, str]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``links`` and ``meta`` of one page (Laravel-style, as the spec documents)."""
    last_page = max(1, math.ceil(total / limit))
    start = (page - 1) * limit
    kept = urlencode([(k, v) for k, v in query_pairs if k != "page"])
    prefix = f"{url}?{kept}&page=" if kept else f"{url}?page="  # encoded once for the four links

    def link(target: int) -> str:
        return f"{prefix}{target}"

    links = {
        "first": link(1),
        "last": link(last_page),
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < last_page else None,
    }
    meta = {
        "current_page": page,
        "from": start + 1 if chunk else None,
        "to": start + len(chunk) if chunk else None,
        "last_page": last_page,
        "per_page": limit,
        "total": total,
    }
    return links, meta
