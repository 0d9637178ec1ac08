"""``security.bola.reports``: records we add never move another company's aggregates.

A report is a GET without path parameters, other than a list or a search, whose answer is one object
with numbers in it (totals, counts, sums). Both companies read it, we create one more record of every
resource we can, and both read it again: each number that moved for us by some amount must not move by
that same amount for the other company. When no number moved for us, the report cannot tell (noted).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contracts.checking import Findings
from contracts.security.fixtures import Context
from contracts.security.identity import normalized
from contracts.security.searches import text_param
from contracts.security.spec_view import Json, Operation, json_or_none, main_type

BOLA_REPORTS = "security.bola.reports"

Numbers = dict[str, float]


def reports(ctx: Context) -> list[Operation]:
    """The GETs that answer one object holding numbers: no path parameter, no list rows, no text search."""
    found = []
    for op in ctx.spec.operations:
        if op.method != "GET" or op.path_params or op.public or text_param(op) is not None:
            continue
        if any(p.get("name") in ("page", "limit", "per_page", "cursor") for p in op.query_params()):
            continue  # a list
        if any(True for _ in numeric_paths(op.response_schema(op.success) or {})):
            found.append(op)
    return found


def numeric_paths(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """The dotted paths of a schema's numbers that are no identifiers."""
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        path = f"{prefix}.{name}" if prefix else str(name)
        kind = main_type(prop)
        if kind in ("integer", "number") and not normalized(str(name)).endswith("id"):
            yield path
        elif kind == "object" or "properties" in prop:
            yield from numeric_paths(prop, path)


def numbers(body: Json, prefix: str = "") -> Numbers:
    """Every number in a JSON answer by its dotted path (identifiers left out)."""
    found: Numbers = {}
    if isinstance(body, dict):
        for name, value in body.items():
            path = f"{prefix}.{name}" if prefix else str(name)
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and not normalized(str(name)).endswith("id"):
                found[path] = float(value)
            elif isinstance(value, dict):
                found.update(numbers(value, path))
    return found


def read(ctx: Context, role: str, op: Operation) -> Numbers | None:
    """The report's numbers as ``role`` reads it now (None when it is no 200 JSON object)."""
    response = ctx.send(ctx.client(role), op, op.path)
    body = json_or_none(response)
    return numbers(body) if response.status_code == 200 and isinstance(body, dict) else None


def add_records(ctx: Context) -> int:
    """One more record of every resource we could create (cleaned up with the rest); how many were made."""
    made = 0
    for record in list(ctx.created.values()):
        res = record.resource
        body = ctx.build_body(res)
        if res.create is None or body is None:
            continue
        response = ctx.send(ctx.client("full"), res.create, res.create.path, res.wrap(res.create, body))
        new_id = res.id_of(res.record_of(res.create, json_or_none(response)))
        if response.status_code < 300 and new_id is not None:
            ctx.extra.append((res, new_id))
            made += 1
    return made


def check_reports(ctx: Context, found: Findings) -> list[str]:
    """Read every report with both keys around our new records; the notes say which reports could not tell."""
    ops = reports(ctx)
    before = {op.operation_id: (read(ctx, "full", op), read(ctx, "other", op)) for op in ops}
    if not ops or not add_records(ctx):
        return [] if not ops else ["reports: no further record could be created to move them"]
    blind: list[str] = []
    for op in ops:
        mine0, theirs0 = before[op.operation_id]
        mine1, theirs1 = read(ctx, "full", op), read(ctx, "other", op)
        if mine0 is None or theirs0 is None or mine1 is None or theirs1 is None:
            blind.append(f"{op.operation_id} (not readable with both keys)")
            continue
        moved = {path: mine1[path] - mine0[path] for path in mine1 if path in mine0 and mine1[path] != mine0[path]}
        if not moved:
            blind.append(f"{op.operation_id} (our new records did not move it)")
            continue
        shared = sorted(
            path for path, delta in moved.items() if path in theirs0 and theirs1.get(path, 0) - theirs0[path] == delta
        )
        if shared:
            response = ctx.send(ctx.client("other"), op, op.path)
            found.add(
                BOLA_REPORTS,
                f"{op.operation_id} of another company moved with our new records: "
                + ", ".join(f"{path} by {moved[path]:g}" for path in shared[:5]),
                response,
                client=ctx.client("other"),
            )
    return [f"reports that could not tell: {', '.join(blind)}"] if blind else []
