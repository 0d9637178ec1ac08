"""``security.bola``: another company's key never reaches, changes or lists our records."""

from __future__ import annotations

from typing import Any

from contracts.security.findings import Findings
from contracts.security.fixtures import Context, Created
from contracts.security.spec_view import Json, Operation, flatten, json_or_none, main_type, unwrap

BOLA = "security.bola"


def check_bola(ctx: Context) -> tuple[Findings, str]:
    """Another company never reaches our records: 404 on every item operation, absent from its lists."""
    found = Findings(BOLA)
    ctx.need("full", "a full-access key")
    other = ctx.need("other", "a key of another company")
    made = ctx.setup()
    skipped: list[str] = []
    for record in made:
        res = record.resource
        ops = sorted(res.item_ops, key=lambda op: (op.method == "DELETE", op.method != "GET"))
        get = res.get
        if get is not None:
            first = other.call("GET", ctx.path(get, record.id))
            data = unwrap(json_or_none(first))
            if first.status_code == 200 and not ctx.ours(record, data):
                skipped.append(f"{res.item} {record.id} (the other company has its own record with that id)")
                continue
        for op in ops:
            body: Json = None
            if op.body_schema is not None:
                if op.method == "PATCH":
                    text = ctx.marker_field(op.body_schema)
                    body = {text: f"Contract {ctx.unique()}"} if text else {}
                else:
                    body = ctx.build_body(res, "other", schema=op.body_schema) or ctx.sample(op.body_schema)
            response = other.call(op.method, ctx.path(op, record.id), json_body=body, params=ctx.required_params(op))
            if response.status_code != 404:
                data = unwrap(json_or_none(response))
                leak = " and showed our record" if ctx.ours(record, data) else ""
                found.add(
                    other,
                    f"{op.operation_id} on another company's {res.name} {record.id} answered "
                    f"{response.status_code}{leak}, not 404",
                    response,
                )
        after = ctx.read(record)
        if get is not None and record.snapshot is not None and after != record.snapshot:
            response = ctx.client("full").call("GET", ctx.path(get, record.id))
            found.add(
                ctx.client("full"),
                f"{res.name} {record.id} changed (or vanished) after another company's requests to it",
                response,
            )
    for res in ctx.resources.values():
        mine = ctx.created.get(res.collection)
        if res.listing is not None and mine is not None:
            check_list(ctx, found, res.listing, mine)
    for op in ctx.spec.operations:
        if op.method == "GET" and not op.path_params and not op.public and op.path not in ctx.resources:
            names = [p.get("name") for p in op.query_params() if main_type(flatten(p.get("schema") or {})) == "string"]
            text = next((n for n in ("q", "search", "query") if n in names), None)
            if text is not None:
                response = other.call("GET", op.path, params={**ctx.required_params(op), text: ctx.marker})
                if response.status_code == 200 and ctx.marker in response.text:
                    found.add(other, f"{op.operation_id} showed another company's records", response)
    reason = ("not checked: " + "; ".join(skipped)) if skipped else ""
    return found, reason


def check_list(ctx: Context, found: Findings, listing: Operation, record: Created) -> None:
    """The other company's list (searched for our marker, and its first pages) never holds our record."""
    other = ctx.client("other")
    params = ctx.required_params(listing)
    names = {p.get("name"): flatten(p.get("schema") or {}) for p in listing.query_params()}
    limit = names.get("limit", {}).get("maximum")
    text = ctx.marker_field(record.resource.create_schema)
    queries: list[dict[str, Any]] = []
    if "search" in names and text and isinstance(record.body.get(text), str):
        queries.append({**params, "search": record.body[text]})
    for page in range(1, 4):
        query = {**params}
        if limit is not None:
            query["limit"] = limit
        if "page" in names:
            query["page"] = page
        elif page > 1:
            break
        queries.append(query)
    for query in queries:
        response = other.call("GET", listing.path, params=query)
        rows = unwrap(json_or_none(response))
        if response.status_code != 200 or not isinstance(rows, list):
            continue
        if any(ctx.ours(record, row) for row in rows):
            found.add(
                other,
                f"{listing.operation_id} of another company lists our {record.resource.name} {record.id}",
                response,
            )
            return
        if "search" not in query and (not rows or "page" not in query):
            return
