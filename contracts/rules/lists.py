"""The list checks: pagination, filters, sort and search, each on records it creates itself."""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from contracts.checking import Skip
from contracts.results import Failure
from contracts.rules.common import MISSING, ids_of, message_of, payload, rows_of
from contracts.rules.context import Context, Findings

PAGE_LIMIT = 7  # the page size the pagination check walks with
MAX_PAGES = 400  # walk at most this many pages of /customers


def check_pagination(ctx: Context) -> list[Failure]:
    """Walk every page of /customers with limit 7: each record once; meta and links consistent."""
    rule = "rules.pagination"
    found = Findings(ctx)
    token = ctx.token("page")
    created = [ctx.customer(rule, f"Page {token} {n}") for n in range(3)]
    first = ctx.listing(rule, "/customers", {"limit": PAGE_LIMIT, "page": 1})
    meta = (payload(first) or {}).get("meta")
    if not isinstance(meta, dict) or not isinstance(meta.get("total"), int):
        found.add(rule, "GET /customers has no meta.total", first)
        return found.failures
    total = meta["total"]
    last = max(1, math.ceil(total / PAGE_LIMIT))
    if meta.get("last_page") != last:
        found.add(
            rule, f"meta.last_page: expected ceil({total}/{PAGE_LIMIT}) = {last}, got {meta.get('last_page')!r}", first
        )
    seen: dict[Any, int] = {}
    order: list[Any] = []
    pages = min(last, MAX_PAGES)
    for page in range(1, pages + 1):
        response = first if page == 1 else ctx.listing(rule, "/customers", {"limit": PAGE_LIMIT, "page": page})
        rows = rows_of(response)
        _check_page(found, response, page, last, total, len(rows))
        for row_id in ids_of(rows):
            if row_id in seen:
                found.add(rule, f"customer {row_id} appears on page {seen[row_id]} and again on page {page}", response)
            seen[row_id] = page
            order.append(row_id)
    if pages == last:
        if len(order) != total:
            found.add(rule, f"walking {last} pages gave {len(order)} records, meta.total says {total}", first)
        missing = [c for c in created if c not in seen]
        if missing:
            found.add(rule, f"customers {missing} created for this check are on no page", first)
        if not all(isinstance(a, int) and isinstance(b, int) and a < b for a, b in pairwise(order)):
            found.add(rule, "the default order is by id, but the pages are not in ascending id order", first)
    beyond = ctx.api.call("GET", "/customers", params={"limit": PAGE_LIMIT, "page": last + 1})
    beyond_meta = (payload(beyond) or {}).get("meta") if isinstance(payload(beyond), dict) else None
    if beyond.status_code != 200 or rows_of(beyond) or not isinstance(beyond_meta, dict):
        found.add(rule, f"page {last + 1} (past the last) must be 200 with an empty data", beyond)
    elif beyond_meta.get("from") is not None or beyond_meta.get("to") is not None:
        found.add(
            rule, f"an empty page has from/to null, got {beyond_meta.get('from')!r}/{beyond_meta.get('to')!r}", beyond
        )
    return found.failures


def _check_page(found: Findings, response: requests.Response, page: int, last: int, total: int, count: int) -> None:
    """The meta and links of one page."""
    rule = "rules.pagination"
    body = payload(response) or {}
    meta = body.get("meta") if isinstance(body, dict) else None
    links = body.get("links") if isinstance(body, dict) else None
    if not isinstance(meta, dict) or not isinstance(links, dict):
        found.add(rule, f"page {page} lacks meta or links", response)
        return
    size = min(PAGE_LIMIT, max(0, total - (page - 1) * PAGE_LIMIT))
    start = (page - 1) * PAGE_LIMIT + 1
    expected = {
        "current_page": page,
        "per_page": PAGE_LIMIT,
        "total": total,
        "last_page": last,
        "from": start if size else None,
        "to": start + size - 1 if size else None,
    }
    wrong = [f"meta.{k}: expected {v!r}, got {meta.get(k)!r}" for k, v in expected.items() if meta.get(k) != v]
    if count != size:
        wrong.append(f"expected {size} records on the page, got {count}")
    want_links = {
        "first": 1,
        "last": last,
        "prev": page - 1 if page > 1 else None,
        "next": page + 1 if page < last else None,
    }
    for name, target_page in want_links.items():
        link = links.get(name)
        if target_page is None:
            if link is not None:
                wrong.append(f"links.{name}: expected null, got {link!r}")
            continue
        query = parse_qs(urlparse(str(link or "")).query)
        if query.get("page", ["1"])[0] != str(target_page) or query.get("limit") != [str(PAGE_LIMIT)]:
            wrong.append(f"links.{name}: expected page={target_page}&limit={PAGE_LIMIT}, got {link!r}")
    if wrong:
        found.add(rule, f"page {page} of /customers?limit={PAGE_LIMIT}: " + "; ".join(wrong), response)


def check_filters(ctx: Context) -> list[Failure]:
    """status, paid_status, customer_id, invoice_id and date filters return exactly what they name."""
    rule = "rules.filters"
    found = Findings(ctx)
    customer = ctx.customer(rule, f"Filter {ctx.token('filter')}")
    sent = ctx.invoice(rule, customer, (12000,), invoice_date=ctx.day(-2))["id"]
    completed = ctx.invoice(rule, customer, (34000,), invoice_date=ctx.day(-1))["id"]
    draft = ctx.invoice(rule, customer, (56000,))["id"]
    ctx.do(rule, "POST", f"/invoices/{sent}/send", 200)
    ctx.do(rule, "POST", f"/invoices/{completed}/complete", 200)
    payment = ctx.create(
        rule, "/payments", {"customer_id": customer, "invoice_id": sent, "amount": 5000, "payment_date": ctx.day()}
    )["id"]
    invoices = {"SENT": [sent], "COMPLETED": [completed], "DRAFT": [draft]}
    response = ctx.listing(rule, "/invoices", {"customer_id": customer})
    found.same_ids(rule, f"/invoices?customer_id={customer}", response, [sent, completed, draft])
    for status, expected in invoices.items():
        response = ctx.listing(rule, "/invoices", {"status": status, "customer_id": customer})
        found.same_ids(rule, f"/invoices?status={status}&customer_id={customer}", response, expected)
        response = ctx.listing(rule, "/invoices", {"status": status, "sort": "-id"})
        others = sorted({str(row.get("status")) for row in rows_of(response)} - {status})
        if others:
            found.add(rule, f"/invoices?status={status} returned invoices with status {others}", response)
        meta = (payload(response) or {}).get("meta") or {}
        complete = isinstance(meta, dict) and isinstance(meta.get("total"), int) and meta["total"] <= 100
        if complete and expected[0] not in ids_of(rows_of(response)):
            found.add(rule, f"/invoices?status={status} lacks invoice {expected[0]}, just moved to {status}", response)
    for paid, expected in (("PARTIALLY_PAID", [sent]), ("UNPAID", [completed, draft])):
        response = ctx.listing(rule, "/invoices", {"paid_status": paid, "customer_id": customer})
        found.same_ids(rule, f"/invoices?paid_status={paid}&customer_id={customer}", response, expected)
    params = {"customer_id": customer, "date_from": ctx.day(-1), "date_to": ctx.day()}
    response = ctx.listing(rule, "/invoices", params)
    found.same_ids(
        rule,
        f"/invoices?customer_id={customer}&date_from={ctx.day(-1)}&date_to={ctx.day()}",
        response,
        [completed, draft],
    )
    for key, value in (("invoice_id", sent), ("customer_id", customer)):
        response = ctx.listing(rule, "/payments", {key: value})
        found.same_ids(rule, f"/payments?{key}={value}", response, [payment])
    estimate = ctx.create(
        rule,
        "/estimates",
        {
            "customer_id": customer,
            "estimate_date": ctx.day(),
            "expiry_date": ctx.day(30),
            "items": [{"name": "Estimate line", "quantity": 1, "price": 7000}],
        },
    )["id"]
    ctx.do(rule, "POST", f"/estimates/{estimate}/send", 200)
    response = ctx.listing(rule, "/estimates", {"status": "SENT", "customer_id": customer})
    found.same_ids(rule, f"/estimates?status=SENT&customer_id={customer}", response, [estimate])
    response = ctx.listing(rule, "/estimates", {"status": "DRAFT", "customer_id": customer})
    found.same_ids(rule, f"/estimates?status=DRAFT&customer_id={customer}", response, [])
    bad = ctx.api.call("GET", "/invoices", params={"status": "NOT_A_STATUS"})
    if bad.status_code != 400:
        found.add(rule, f"an unknown status filter value must be 400, got {bad.status_code}", bad)
    elif "DRAFT" not in message_of(bad):
        found.add(rule, f"the 400 for an unknown status must list the allowed values, got {message_of(bad)!r}", bad)
    return found.failures


def _sort_enum(ctx: Context, path: str) -> list[str]:
    """The declared values of a list's ``sort`` parameter."""
    spec = ctx.spec
    operation = ((spec.get("paths") or {}).get(path) or {}).get("get") or {}
    for parameter in operation.get("parameters") or []:
        if isinstance(parameter, dict) and "$ref" in parameter:
            name = str(parameter["$ref"]).rsplit("/", 1)[-1]
            parameter = ((spec.get("components") or {}).get("parameters") or {}).get(name) or {}
        if isinstance(parameter, dict) and parameter.get("name") == "sort":
            return [str(value) for value in (parameter.get("schema") or {}).get("enum") or []]
    return []


def _properties(spec: Mapping[str, Any], schema: Any, depth: int = 0) -> dict[str, Any]:
    """The properties of a schema, following ``$ref`` and ``allOf``."""
    if not isinstance(schema, dict) or depth > 20:
        return {}
    if isinstance(schema.get("$ref"), str):
        target: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        return _properties(spec, target, depth + 1)
    found = dict(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        found.update(_properties(spec, part, depth + 1))
    return found


def _undeclared_sort_field(ctx: Context, path: str) -> str:
    """A real field of a list's records (from its 200 schema) that the list does not declare as a sort field."""
    declared = {value.lstrip("-") for value in _sort_enum(ctx, path)}
    operation = ((ctx.spec.get("paths") or {}).get(path) or {}).get("get") or {}
    content = ((operation.get("responses") or {}).get("200") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    data = _properties(ctx.spec, schema).get("data") or {}
    fields = _properties(ctx.spec, data.get("items") if isinstance(data, dict) else None)
    for name in fields:
        if name not in declared:
            return str(name)
    return "not_a_sort_field"


def check_sort(ctx: Context) -> list[Failure]:
    """sort=total / -total / invoice_date order records; an undeclared sort field is 400."""
    rule = "rules.sort"
    found = Findings(ctx)
    customer = ctx.customer(rule, f"Sort {ctx.token('sort')}")
    prices = ctx.rng.sample(range(1000, 900000, 7), 4)
    offsets = [-3, -1, -4, -2]
    made = []
    for price, offset in zip(prices, offsets, strict=True):
        record = ctx.invoice(rule, customer, (price,), invoice_date=ctx.day(offset))
        made.append((int(record["id"]), price, ctx.day(offset)))
    orders = {
        "total": [i for i, _, _ in sorted(made, key=lambda r: r[1])],
        "-total": [i for i, _, _ in sorted(made, key=lambda r: -r[1])],
        "invoice_date": [i for i, _, _ in sorted(made, key=lambda r: r[2])],
        "-invoice_date": [i for i, _, _ in sorted(made, key=lambda r: r[2], reverse=True)],
    }
    for sort, expected in orders.items():
        response = ctx.listing(rule, "/invoices", {"customer_id": customer, "sort": sort})
        got = [row_id for row_id in ids_of(rows_of(response)) if row_id in expected]
        if sorted(got) == sorted(expected) and got != expected:  # the filter itself is the filters check's
            found.add(
                rule,
                f"/invoices?customer_id={customer}&sort={sort}: expected ids in order {expected}, got {got}",
                response,
            )
    for sort in ("total", "-total", "invoice_date", "-invoice_date"):
        response = ctx.listing(rule, "/invoices", {"sort": sort})
        key = sort.lstrip("-")
        values: list[Any] = [row[key] for row in rows_of(response) if row.get(key) is not None]
        try:
            ordered = values == sorted(values, reverse=sort.startswith("-"))
        except TypeError:
            ordered = False
        if not ordered:
            found.add(rule, f"/invoices?sort={sort}: page 1 is not ordered by {key}: {values[:12]}...", response)
    token = ctx.token("names")
    names = [f"Sort {token} b", f"Sort {token} c", f"Sort {token} a"]
    ids = {name: ctx.customer(rule, name) for name in names}
    for sort, reverse in (("name", False), ("-name", True)):
        response = ctx.listing(rule, "/customers", {"search": token, "sort": sort})
        expected = [ids[name] for name in sorted(names, reverse=reverse)]
        got = [row_id for row_id in ids_of(rows_of(response)) if row_id in expected]
        if sorted(got) == sorted(expected) and got != expected:  # the search itself is the search check's
            found.add(rule, f"/customers?search={token}&sort={sort}: expected {expected}, got {got}", response)
    field_name = _undeclared_sort_field(ctx, "/invoices")
    for sort in (field_name, f"-{field_name}"):
        response = ctx.api.call("GET", "/invoices", params={"sort": sort})
        if response.status_code != 400:
            found.add(
                rule, f"sort={sort} is not a declared sort field: expected 400, got {response.status_code}", response
            )
    return found.failures


def check_search(ctx: Context) -> list[Failure]:
    """?search= and /search?q= find a customer and an invoice just created (case-insensitively)."""
    rule = "rules.search"
    found = Findings(ctx)
    token = ctx.token("search")
    customer = ctx.customer(rule, f"Search {token.capitalize()} Ltd")
    invoice = ctx.invoice(rule, customer, (4200,))
    number = str(invoice.get("invoice_number") or "")
    for needle in (token, token.upper()):
        response = ctx.listing(rule, "/customers", {"search": needle})
        found.same_ids(rule, f"/customers?search={needle}", response, [customer])
    search = ctx.api.call("GET", "/search", params={"q": token.upper(), "limit": 100})
    if search.status_code in MISSING:
        raise Skip(f"GET /search answered {search.status_code}")
    hits = [(row.get("type"), row.get("id")) for row in rows_of(search)]
    if ("customers", customer) not in hits:
        found.add(rule, f"/search?q={token.upper()} must find customer {customer}; got hits {hits[:10]}", search)
    typed = ctx.api.call("GET", "/search", params={"q": token, "type": "invoices"})
    wrong = [row for row in rows_of(typed) if row.get("type") != "invoices"]
    if typed.status_code != 200 or wrong:
        found.add(rule, f"/search?q={token}&type=invoices must only hold invoices; got {wrong[:3]}", typed)
    if number:
        by_number = ctx.api.call("GET", "/search", params={"q": number, "type": "invoices", "limit": 100})
        if ("invoices", invoice["id"]) not in [(row.get("type"), row.get("id")) for row in rows_of(by_number)]:
            found.add(rule, f"/search?q={number}&type=invoices must find invoice {invoice['id']}", by_number)
        response = ctx.listing(rule, "/invoices", {"search": number})
        if invoice["id"] not in ids_of(rows_of(response)):
            found.add(rule, f"/invoices?search={number} must find invoice {invoice['id']}", response)
    nothing = ctx.listing(rule, "/customers", {"search": token + "nomatch"})
    if customer in ids_of(rows_of(nothing)):
        found.add(rule, f"/customers?search={token}nomatch must not find customer {customer}", nothing)
    return found.failures
