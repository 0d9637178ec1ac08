"""``security.bola.search``: a text only our records hold finds nothing for another company.

Every GET without path parameters that takes a text query (``q``, ``search``, ``query``, ``term``,
``keyword``) is searched for each marked text of ours, first with our key (the hits that prove the term
findable), then with the other company's: the other company's hits never include ours. A term our own
key cannot find proves nothing and is not counted.
"""

from __future__ import annotations

import json
from typing import Any

from contracts.checking import Findings
from contracts.security.fixtures import Context, Created
from contracts.security.spec_view import Json, Operation, flatten, json_or_none, main_type, unwrap

BOLA_SEARCH = "security.bola.search"
TEXT_PARAMS = ("q", "search", "query", "term", "keyword", "keywords")


def text_param(op: Operation) -> str | None:
    """The query parameter ``op`` takes free text in, or None."""
    names = [p.get("name") for p in op.query_params() if main_type(flatten(p.get("schema") or {})) == "string"]
    return next((n for n in TEXT_PARAMS if n in names), None)


def searches(ctx: Context) -> list[Operation]:
    """The searchable GETs whose hits may be any record (the lists of our own resources are ``check_list``'s)."""
    ours = {made.resource.listing.path for made in ctx.created.values() if made.resource.listing is not None}
    return [
        op
        for op in ctx.spec.operations
        if op.method == "GET" and not op.path_params and not op.public and op.path not in ours and text_param(op)
    ]


def check_searches(ctx: Context, found: Findings, made: list[Created]) -> list[str]:
    """Search every searchable GET for our marked texts with both keys; the notes say which could not tell."""
    full, other = ctx.client("full"), ctx.client("other")
    blind: list[str] = []
    for op in searches(ctx):
        name = str(text_param(op))
        proven = False
        for record in made:
            for term in sorted(ctx.marks(record)):
                mine = hits(ctx, op, ctx.send(full, op, op.path, params={name: term}))
                if not mine:
                    continue
                proven = True
                response = ctx.send(other, op, op.path, params={name: term})
                theirs = hits(ctx, op, response) if response.status_code == 200 else []
                if any(hit in mine for hit in theirs):
                    found.add(
                        BOLA_SEARCH,
                        f"{op.operation_id} for {term!r}, a text only our {record.resource.name} {record.id} holds, "
                        "showed another company our record",
                        response,
                        client=other,
                    )
                    break
        if not proven:
            blind.append(op.operation_id)
    return (
        [f"{', '.join(blind)}: no text of ours was found with our own key, so a leak could not show"] if blind else []
    )


def hits(ctx: Context, op: Operation, response: Any) -> list[str]:
    """The hits of a search answer, each as canonical JSON (empty when it is no 200 list)."""
    if response.status_code != 200:
        return []
    body: Json = json_or_none(response)
    res = ctx.resources.get(op.path)
    rows = res.rows_of(body) if res is not None and res.listing is op else None
    if rows is None:
        rows = unwrap(body)
    if not isinstance(rows, list):
        return []
    return [json.dumps(row, sort_keys=True) for row in rows]
