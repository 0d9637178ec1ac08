"""The tenancy rule: another company's key never reaches, changes, lists, finds or counts our records.

Its failures name what leaked, so one defect breaks one rule:

- ``security.bola``: the record's own path (read, update, delete) and the collection's lists;
- ``security.bola.actions``: the other operations under the record (``POST /invoices/{id}/send``): 404,
  and our record unchanged;
- ``security.bola.nested``: JSON reads under the record (sub-collections such as ``/projects/{id}/invoices``);
- ``security.bola.documents``: renderings under the record that are no JSON (PDFs, CSV exports), and
  collection-level exports (a GET without path parameters answering no JSON) showing a text of ours;
- ``security.bola.search`` (``searches``) and ``security.bola.reports`` (``reports``).

An answer is said to show our record only when it does (a marked text of ours the other key did not send,
or the record as we read it), never for an echo of that key's own body.
"""

from __future__ import annotations

from typing import Any

from contracts.checking import Findings, Skip
from contracts.security.fixtures import Context, Created
from contracts.security.identity import phantom
from contracts.security.reports import check_reports
from contracts.security.resources import Resource
from contracts.security.searches import BOLA_SEARCH, check_searches, text_param
from contracts.security.spec_view import Json, Operation, flatten, json_or_none

BOLA = "security.bola"
BOLA_ACTIONS = "security.bola.actions"
BOLA_NESTED = "security.bola.nested"
BOLA_DOCUMENTS = "security.bola.documents"


def rule_of(res: Resource, op: Operation) -> str:
    """The tenancy rule an item operation falls under (see the module)."""
    if op.path == res.item:
        return BOLA
    if op.method != "GET":
        return BOLA_ACTIONS
    return BOLA_NESTED if op.response_schema(op.success) is not None else BOLA_DOCUMENTS


def check_bola(ctx: Context) -> tuple[Findings, str]:
    """Another company never reaches, lists, finds or counts our records (each leak under its rule, see the module)."""
    found = Findings(BOLA)
    ctx.need("full", "a full-access key")
    other = ctx.need("other", "a key of another company")
    if not any(op.requires_key for op in ctx.spec.operations):
        raise Skip("the spec requires a credential on no operation: every caller is the same anonymous one")
    made = ctx.setup()
    skipped: list[str] = []
    unproven: list[str] = []
    for record in made:
        res = record.resource
        ops = sorted(res.item_ops, key=lambda op: (op.method == "DELETE", op.method != "GET"))
        get = res.get
        if get is not None:
            first = ctx.send(other, get, ctx.path(get, record.id))
            data = res.record_of(get, json_or_none(first))
            if first.status_code == 200 and not ctx.ours(record, data):
                skipped.append(f"{res.item} {record.id} (the other company has its own record with that id)")
                continue
        blamed = ""  # the rule of the first operation that was not refused: it explains a change
        for op in ops:
            body = other_body(ctx, record, op)
            response = ctx.send(other, op, ctx.path(op, record.id), body)
            if 400 <= response.status_code < 500 and response.status_code != 404:
                control = ctx.send(other, op, ctx.path(op, phantom(record.id, ctx.rng)), body)
                if control.status_code == response.status_code:  # refused before any record is looked up
                    unproven.append(f"{op.operation_id} ({response.status_code} for a missing record too)")
                    continue
            if response.status_code != 404:
                data = res.record_of(op, json_or_none(response))
                leak = " and showed our record" if ctx.ours(record, data, body) else ""
                rule = rule_of(res, op)
                blamed = blamed or (rule if op.method != "GET" else "")
                found.add(
                    rule,
                    f"{op.operation_id} on another company's {res.name} {record.id} answered "
                    f"{response.status_code}{leak}, not 404",
                    response,
                    client=other,
                )
        after = ctx.read(record)
        if get is not None and record.snapshot is not None and after != record.snapshot:
            response = ctx.send(ctx.client("full"), get, ctx.path(get, record.id))
            found.add(
                blamed or BOLA,
                f"{res.name} {record.id} changed (or vanished) after another company's requests to it",
                response,
                client=ctx.client("full"),
            )
            record.snapshot = after  # reported here: later checks judge their own requests from this state
    for res in ctx.resources.values():
        mine = ctx.created.get(res.collection)
        if res.listing is not None and mine is not None:
            check_list(ctx, found, res.listing, mine)
    check_exports(ctx, found, made)
    blind = check_searches(ctx, found, made) + check_reports(ctx, found)
    reasons = [f"not checked: {'; '.join(skipped)}"] if skipped else []
    if unproven:
        shown = "; ".join(unproven[:5]) + (f"; and {len(unproven) - 5} more" if len(unproven) > 5 else "")
        reasons.append(f"refused whatever the record, so the lookup was never reached: {shown}")
    return found, ". ".join(reasons + blind)


def check_exports(ctx: Context, found: Findings, made: list[Created]) -> None:
    """Collection-level exports (a GET without path parameters whose success is no JSON) show no text of ours."""
    other = ctx.client("other")
    marks = sorted(mark for record in made for mark in ctx.marks(record))
    for op in ctx.spec.operations:
        if op.method != "GET" or op.path_params or op.public or op.response_schema(op.success) is not None:
            continue
        response = ctx.send(other, op, op.path)
        shown = next((mark for mark in marks if mark in response.text), None)
        if response.status_code == 200 and shown is not None:
            found.add(
                BOLA_DOCUMENTS, f"{op.operation_id} of another company showed our {shown!r}", response, client=other
            )


def other_body(ctx: Context, record: Created, op: Operation) -> Json:
    """The body another company sends to ``op`` on our record: a marked text for a PATCH, else a valid record."""
    schema = op.body_schema
    if schema is None:
        return None
    res = record.resource
    inner = res.body_envelope(op).inner(schema)
    if op.method == "PATCH":
        text = ctx.marker_field(inner)
        return res.wrap(op, {text: f"Contract {ctx.unique()}"} if text else {})
    built = ctx.build_body(res, "other", schema=inner)
    return res.wrap(op, built) if built else ctx.sample(schema)


def check_list(ctx: Context, found: Findings, listing: Operation, record: Created) -> None:
    """The other company's list (searched for our marker, and its first pages) never holds our record."""
    other = ctx.client("other")
    params = ctx.required_params(listing)
    names = {p.get("name"): flatten(p.get("schema") or {}) for p in listing.query_params()}
    limit = names.get("limit", {}).get("maximum")
    text = ctx.marker_field(record.resource.create_schema)
    search = text_param(listing)
    queries: list[dict[str, Any]] = []
    if search and text and isinstance(record.body.get(text), str):
        queries.append({**params, search: record.body[text]})
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
        response = ctx.send(other, listing, listing.path, params=query)
        rows = record.resource.rows_of(json_or_none(response))
        if response.status_code != 200 or not isinstance(rows, list):
            continue
        if any(ctx.ours(record, row) for row in rows):
            found.add(
                BOLA_SEARCH if search in query else BOLA,
                f"{listing.operation_id} of another company lists our {record.resource.name} {record.id}",
                response,
                client=other,
            )
            return
        if search not in query and (not rows or "page" not in query):
            return
