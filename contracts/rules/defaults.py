"""The spec's defaults, checked on the target: a list's page size and sort order, a created record's fields.

Everything comes from the spec: the page size is the ``default`` of a list's page-size query parameter
(``limit``, ``per_page``...), the sort order the ``default`` of its sort parameter, a field's default the
``default`` of an optional property of a create's request body (and of the objects in its arrays). Nothing
names a resource of the invoicing API, so the checks run on any spec that documents such defaults.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from contracts.checking import Skip
from contracts.results import Failure
from contracts.rules.common import MISSING, data_of, payload, rows_of
from contracts.rules.context import Context, Findings
from contracts.security.creates import create_candidates
from contracts.security.spec_view import Operation, Schema, Spec, flatten, main_type

PAGE_SIZE_NAMES = frozenset({"limit", "per_page", "perpage", "page_size", "pagesize", "page[size]", "size", "count"})
SORT_NAMES = frozenset({"sort", "sort_by", "sortby", "order", "order_by", "orderby", "ordering"})
FILL_UP_TO = 101  # records the page-size check creates at most to have more than the default


@dataclass(frozen=True)
class Listing:
    """A list operation that needs no argument, and the defaults of its page size and sort parameters."""

    path: str
    page_size: tuple[str, int] | None  # (parameter name, default)
    page_max: int | None  # the page size parameter's ``maximum``
    sort: tuple[str, Any] | None  # (parameter name, default)


def listings(spec: Spec) -> list[Listing]:
    """Every GET on a collection (no path parameter, no required query parameter) that returns a list."""
    found: list[Listing] = []
    for op in spec.operations:
        if op.method != "GET" or op.path_params or op.public or not _returns_list(op):
            continue
        query = op.query_params()
        if any(p.get("required") and "default" not in (p.get("schema") or {}) for p in query):
            continue
        page_size = page_max = sort = None
        for parameter in query:
            name, schema = str(parameter.get("name", "")), flatten(parameter.get("schema") or {})
            if name.lower() in PAGE_SIZE_NAMES and main_type(schema) == "integer" and _is_int(schema.get("default")):
                page_size = (name, int(schema["default"]))
                page_max = int(schema["maximum"]) if _is_int(schema.get("maximum")) else None
            elif name.lower() in SORT_NAMES and schema.get("default") is not None:
                sort = (name, schema["default"])
        if page_size or sort:
            found.append(Listing(op.path, page_size, page_max, sort))
    return found


def _returns_list(op: Operation) -> bool:
    """Whether the 200 answer is an array, bare or wrapped in ``data``."""
    schema = op.response_schema(200) or {}
    properties = schema.get("properties") or {}
    return main_type(flatten(properties["data"]) if "data" in properties else schema) == "array"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _total(response: requests.Response) -> int | None:
    """``meta.total`` (or a top-level ``total``) of a page, when the target gives one."""
    body = payload(response)
    if not isinstance(body, dict):
        return None
    meta = body.get("meta")
    total = meta.get("total") if isinstance(meta, dict) else body.get("total")
    return total if _is_int(total) else None


def check_default_page_size(ctx: Context) -> list[Failure]:
    """A list called without its page size returns at most the documented default, exactly it when more exist."""
    rule = "rules.default_page_size"
    found = Findings(ctx)
    lists = [listing for listing in listings(Spec(ctx.spec)) if listing.page_size]
    if not lists:
        raise Skip("no list documents a default page size")
    checked, exact, said = 0, 0, PerPage()
    for listing in lists:
        response = ctx.api.call("GET", listing.path)
        if response.status_code in (*MISSING, 401, 403) or not isinstance(data_of(response), list):
            continue
        checked += 1
        exact += _judge_page(found, rule, listing, response, said)
    if not exact:
        exact += _fill_and_judge(ctx, found, rule, lists, said)
    if said.paths:
        found.add(
            rule,
            f"GET {', '.join(said.paths[:6])}{' ...' if len(said.paths) > 6 else ''} without a page size "
            f"{'say' if len(said.paths) > 1 else 'says'} meta.per_page {said.value}; "
            f"the spec's default is {said.default}",
            said.response,
        )
    if not checked:
        raise Skip("no list with a documented default page size answered 200 with a list")
    if not exact and not found.failures:
        raise Skip("no list held more records than its default page size, and none could be filled up to it")
    return found.failures


@dataclass
class PerPage:
    """The lists whose ``meta.per_page`` (and nothing else) disagrees with the default: one finding for all."""

    paths: list[str] = field(default_factory=list)
    value: Any = None
    default: int = 0
    response: Any = None


def _judge_page(found: Findings, rule: str, listing: Listing, response: requests.Response, said: PerPage) -> int:
    """Judge one page fetched without its page size; 1 when it showed the default exactly (more records exist)."""
    assert listing.page_size is not None
    name, default = listing.page_size
    rows, total = len(data_of(response)), _total(response)
    where = f"GET {listing.path} without {name}"
    if rows > default:
        found.add(rule, f"{where} returned {rows} records; the spec's default {name} is {default}", response)
        return 0
    if total is not None and total > default and rows != default:
        found.add(rule, f"{where} returned {rows} of {total} records; the spec's default {name} is {default}", response)
        return 0
    meta = (payload(response) or {}).get("meta") if isinstance(payload(response), dict) else None
    per_page = meta.get("per_page") if isinstance(meta, dict) else None
    if _is_int(per_page) and per_page != default and listing.path not in said.paths:
        said.paths.append(listing.path)
        said.value, said.default, said.response = per_page, default, said.response or response
    return int(total is not None and total > default)


def _fill_and_judge(ctx: Context, found: Findings, rule: str, lists: list[Listing], said: PerPage) -> int:
    """No list held more than its default: create records in the first list that has a create, then judge it."""
    spec = Spec(ctx.spec)
    for listing in lists:
        assert listing.page_size is not None
        default = listing.page_size[1]
        create = next(iter(create_candidates(spec.operations, listing.path)), None)
        if create is None or default >= FILL_UP_TO:
            continue
        first = ctx.api.call("GET", listing.path)
        have = _total(first)
        if have is None:
            continue
        token = ctx.token("fill")
        for n in range(max(0, default + 1 - have)):
            body = minimal_body(ctx, spec, create, f"Default page {token} {n}")
            if body is None or ctx.api.call("POST", listing.path, body=body).status_code != 201:
                break
        response = ctx.api.call("GET", listing.path)
        filled = _total(response)
        if isinstance(data_of(response), list) and filled is not None and filled > default:
            return _judge_page(found, rule, listing, response, said)
    return 0


def check_default_sort(ctx: Context) -> list[Failure]:
    """A list called without its sort parameter is in the order of the documented default sort."""
    rule = "rules.default_sort"
    found = Findings(ctx)
    lists = [listing for listing in listings(Spec(ctx.spec)) if listing.sort]
    if not lists:
        raise Skip("no list documents a default sort")
    compared = 0
    for listing in lists:
        assert listing.sort is not None
        name, default = listing.sort
        size = {listing.page_size[0]: listing.page_max or listing.page_size[1]} if listing.page_size else {}
        plain = ctx.api.call("GET", listing.path, params=size)
        sorted_ = ctx.api.call("GET", listing.path, params={**size, name: default})
        if plain.status_code != 200 or sorted_.status_code != 200:
            continue
        unsorted_rows, sorted_rows = _identities(plain), _identities(sorted_)
        if len(sorted_rows) < 2:
            continue
        compared += 1
        if unsorted_rows != sorted_rows:
            found.add(
                rule,
                f"GET {listing.path} without {name} must be in the default order {name}={default}: "
                f"expected {_short(sorted_rows)}, got {_short(unsorted_rows)}",
                plain,
            )
    if not compared:
        raise Skip("no list with a documented default sort held two records to order")
    return found.failures


def _identities(response: requests.Response) -> list[Any]:
    """The rows of a page by id (their whole JSON when they have none)."""
    return [row.get("id", json.dumps(row, sort_keys=True)) for row in rows_of(response)]


def _short(values: list[Any], size: int = 12) -> str:
    return str(values if len(values) <= size else [*values[:size], "..."])


def check_field_defaults(ctx: Context) -> list[Failure]:
    """A record created without an optional field that has a schema ``default`` reads back with that default."""
    rule = "rules.field_defaults"
    found = Findings(ctx)
    spec = Spec(ctx.spec)
    tried, checked, refused = 0, 0, []
    for collection in sorted({op.path for op in spec.operations if op.method == "GET" and not op.path_params}):
        create = next(iter(create_candidates(spec.operations, collection)), None)
        if create is None or create.path != collection or not list(defaults_of(create.body_schema or {})):
            continue
        tried += 1
        body = minimal_body(ctx, spec, create, f"Defaults {ctx.token('dflt')}")
        if body is None:
            refused.append(f"POST {collection} documents no request example")
            continue
        response = ctx.api.call("POST", collection, body=body)
        created = data_of(response)
        if response.status_code != 201 or not isinstance(created, dict):
            refused.append(f"POST {collection} answered {response.status_code}")
            continue
        checked += 1
        record, source = _read_back(ctx, spec, collection, created, response)
        sent = json.dumps(body)
        for where, default in defaults_of(create.body_schema or {}):
            value = _at(record, where)
            if value is _ABSENT or value != default:
                got = "the record has no such field" if value is _ABSENT else f"got {value!r}"
                found.add(
                    rule,
                    f"POST {collection} {sent[:300]} (without the optional {'.'.join(map(str, where))}) must read "
                    f"back its schema default {default!r}: {got}",
                    source,
                )
    if not tried:
        raise Skip("no create documents an optional field with a default")
    if not checked:
        raise Skip("no create with defaulted fields succeeded: " + "; ".join(refused))
    return found.failures


_ABSENT = object()


def defaults_of(schema: Schema) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, default) of each optional, writable property with a default, and those of the objects in its arrays.

    An array member's path is (field, 0, property): the body keeps the example's array, trimmed to one object.
    """
    required = set(schema.get("required") or [])
    for name, prop in (schema.get("properties") or {}).items():
        prop = flatten(prop)
        if prop.get("readOnly"):
            continue
        if "default" in prop and name not in required:
            yield (name,), prop["default"]
        elif name in required and main_type(prop) == "array":
            for inner, default in defaults_of(flatten(prop.get("items") or {})):
                if len(inner) == 1:
                    yield (name, 0, *inner), default


def minimal_body(ctx: Context, spec: Spec, create: Operation, name: str) -> dict[str, Any] | None:
    """The create's example cut to its required fields, references pointing at records the caller can read."""
    example, schema = create.body_example(), create.body_schema or {}
    if not isinstance(example, dict):
        return None
    body = {key: value for key, value in example.items() if key in set(schema.get("required") or [])}
    for key, value in list(body.items()):
        prop = flatten((schema.get("properties") or {}).get(key) or {})
        if main_type(prop) == "array" and isinstance(value, list) and value and isinstance(value[0], dict):
            items = flatten(prop.get("items") or {})
            keep = set(items.get("required") or [])
            body[key] = [{k: v for k, v in value[0].items() if k in keep}]
        elif key.endswith("_id") and _is_int(value):
            body[key] = _readable_id(ctx, spec, key[: -len("_id")], value)
        elif key == "name" and isinstance(value, str):
            body[key] = name
    return body


def _readable_id(ctx: Context, spec: Spec, stem: str, fallback: int) -> Any:
    """The id of a record the caller can read in the collection ``<stem>_id`` names, else ``fallback``."""
    plural = f"{stem[:-1]}ies" if stem.endswith("y") else f"{stem}es" if stem.endswith(("s", "x")) else f"{stem}s"
    paths = {op.path for op in spec.operations if op.method == "GET" and not op.path_params}
    for path in dict.fromkeys((f"/{plural}", f"/{plural.replace('_', '-')}")):
        if path in paths:
            rows = rows_of(ctx.api.call("GET", path))
            if rows and rows[0].get("id") is not None:
                return rows[0]["id"]
    return fallback


def _read_back(
    ctx: Context, spec: Spec, collection: str, created: dict[str, Any], response: requests.Response
) -> tuple[dict[str, Any], requests.Response]:
    """The record as ``GET {collection}/{id}`` shows it (the create's answer when there is no such GET)."""
    item = next(
        (
            op.path
            for op in spec.operations
            if op.method == "GET"
            and op.path.startswith(collection + "/{")
            and len(op.path_params) == 1
            and op.path.count("/") == collection.count("/") + 1
        ),
        None,
    )
    if item is None or created.get("id") is None:
        return created, response
    read = ctx.api.call("GET", item.replace("{" + next(iter(_params(item))) + "}", str(created["id"])))
    record = data_of(read)
    return (record, read) if read.status_code == 200 and isinstance(record, dict) else (created, response)


def _params(path: str) -> Iterator[str]:
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            yield segment[1:-1]


def _at(record: Any, where: tuple[Any, ...]) -> Any:
    """The value at a path of keys and indexes, or ``_ABSENT``."""
    node = record
    for step in where:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return _ABSENT
            node = node[step]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return _ABSENT
    return node
