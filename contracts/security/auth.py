"""``security.auth``: expired, unknown and missing keys get 401; public operations answer without a key.

Keys are sent, and left out, the way each operation's security scheme says (a missing key leaves out the
``X-API-Key`` header of an apiKey scheme, not just ``Authorization``); the check is skipped when the target
refuses the full key too, since a 401 then proves nothing.
"""

from __future__ import annotations

from typing import Any

from contracts.checking import Findings, Skip
from contracts.http import Client
from contracts.security.fixtures import Context
from contracts.security.spec_view import Operation, json_or_none
from contracts.security.wire import formable

AUTH = "security.auth"


def check_auth(ctx: Context) -> tuple[Findings, str]:
    """Expired, unknown and missing credentials are 401 on authenticated operations; public ones answer."""
    found = Findings(AUTH)
    if not any(requires_key(op) for op in ctx.spec.operations):
        raise Skip("the spec requires a credential on no operation (no security requirement): a 401 is not due")
    if ctx.has("full") and ctx.refused("full"):
        raise Skip(f"a 401 proves nothing while the target refuses the full key too: {ctx.refused('full')}")
    callers: list[tuple[str, Client]] = []
    if ctx.has("expired"):
        callers.append(("an expired key", ctx.client("expired")))
    garbage = f"sk_test_{ctx.rng.getrandbits(96):024x}"
    callers.append(("an unknown key", formable(Client(ctx.target, None, key=garbage))))
    callers.append(("no key", formable(Client(ctx.target, None))))
    probes: list[tuple[Operation, dict[str, Any] | None]] = []
    for res in ctx.resources.values():
        if res.listing is not None and requires_key(res.listing):
            probes.append((res.listing, None))
    write = next((res for res in ctx.resources.values() if res.create is not None and requires_key(res.create)), None)
    for what, client in callers:
        for op, _ in probes:
            response = ctx.send(client, op, op.path)
            if response.status_code != 401:
                found.add(
                    "",
                    f"{op.operation_id} with {what} answered {response.status_code}, not 401",
                    response,
                    client=client,
                )
        create = write.create if write is not None else None
        if write is not None and create is not None:
            body = ctx.build_body(write, "full") if ctx.has("full") else ctx.sample(write.create_schema)
            response = ctx.send(client, create, create.path, write.wrap(create, body))
            if response.status_code != 401:
                found.add(
                    "",
                    f"{create.operation_id} with {what} answered {response.status_code}, not 401",
                    response,
                    client=client,
                )
                made_id = write.id_of(write.record_of(create, json_or_none(response)))
                if response.status_code < 300 and made_id is not None:
                    ctx.extra.append((write, made_id))
    anonymous = Client(ctx.target, None)
    for op in ctx.spec.operations:
        if op.public and op.method == "GET" and not op.path_params:
            response = ctx.send(anonymous, op, op.path)
            if response.status_code in (401, 403) or response.status_code >= 500:
                found.add(
                    "",
                    f"{op.operation_id} needs no credential (security: []) but answered {response.status_code}",
                    response,
                    client=anonymous,
                )
    reason = "" if ctx.has("expired") else "no expired key (--key expired=...): checked unknown and missing keys only"
    return found, reason


def requires_key(op: Operation) -> bool:
    """Whether the spec requires a credential on ``op``: a security requirement with no empty alternative."""
    return op.requires_key
