"""Filter, search, sort and paginate a list of records exactly as the spec's list parameters say."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from mockserver.spec import Operation, Resource
from mockserver.state.store import Record

CONTROL_PARAMS = frozenset({"page", "limit", "sort", "search", "q", "date_from", "date_to", "offset"})


def select(records: Iterable[Record], resource: Resource, operation: Operation, params: dict[str, Any]) -> list[Record]:
    """Records that pass every filter parameter the caller sent."""
    properties = resource.schema.get("properties") or {}
    tests: list[Any] = []
    for parameter in operation.parameters:
        name = parameter.name
        if parameter.location != "query" or name in CONTROL_PARAMS or name not in params:
            continue
        if name in properties:
            tests.append(_equality(name, params[name]))
    text = params.get("search")
    if text:
        needle = str(text).casefold()
        fields = resource.search_fields
        tests.append(lambda r: any(needle in str(r.get(f) or "").casefold() for f in fields))
    date_field = resource.date_field
    if date_field and (params.get("date_from") or params.get("date_to")):
        low, high = str(params.get("date_from") or ""), str(params.get("date_to") or "9999")
        tests.append(lambda r: r.get(date_field) is not None and low <= str(r[date_field])[:10] <= high)
    return [r for r in records if all(test(r) for test in tests)]


def _equality(name: str, wanted: Any) -> Any:
    """A predicate: field equals the value, or is one of the values, or contains it when a list."""
    options = wanted if isinstance(wanted, list) else [wanted]

    def test(record: Record) -> bool:
        value = record.get(name)
        if isinstance(value, list):
            return any(_same(option, item) for option in options for item in value)
        return any(_same(option, value) for option in options)

    return test


def _same(wanted: Any, value: Any) -> bool:
    if isinstance(value, dict) and "name" in value:
        value = value["name"]
    return bool(wanted == value)


def order(records: list[Record], sort: str | None, id_field: str) -> list[Record]:
    """Sort by ``field`` or ``-field`` (nulls last either way), ties broken by id; id order otherwise."""
    if not sort:
        return records
    descending = sort.startswith("-")
    field = sort.lstrip("-+")
    present = [r for r in records if r.get(field) is not None]
    missing = [r for r in records if r.get(field) is None]
    present.sort(key=lambda r: (_sort_key(r[field]), _sort_key(r.get(id_field))), reverse=descending)
    return present + missing


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value).casefold())


def paginate(
    records: Sequence[Record],
    page: int,
    limit: int,
    url: str,
    query_pairs: list[tuple[str, str]],
) -> tuple[list[Record], dict[str, Any], dict[str, Any]]:
    """One page of records with its ``links`` and ``meta`` (Laravel-style, as the spec documents)."""
    total = len(records)
    last_page = max(1, math.ceil(total / limit))
    start = (page - 1) * limit
    chunk = list(records[start : start + limit])
    kept = [(k, v) for k, v in query_pairs if k != "page"]

    def link(target: int) -> str:
        return f"{url}?{urlencode([*kept, ('page', str(target))])}"

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
    return chunk, links, meta
