"""``security.write_only`` and ``security.read_only``: writeOnly fields never leak, readOnly ones are never stored."""

from __future__ import annotations

import random
from typing import Any

import requests

from contracts.checking import Findings, Skip
from contracts.security.fixtures import Context
from contracts.security.resources import Resource
from contracts.security.spec_view import Operation, Schema, flatten, json_or_none, main_type, record_schema

WRITE_ONLY = "security.write_only"
READ_ONLY = "security.read_only"


def forbidden_fields(op: Operation, status: int, res: Resource) -> set[str]:
    """The writeOnly field names that must not appear in the record(s) of this response."""
    shown = record_schema(op.response_schema(status)) or {}
    props = shown.get("properties") or {}
    names = {n for n, p in props.items() if flatten(p).get("writeOnly")}
    names |= {n for n, p in (res.create_schema.get("properties") or {}).items() if flatten(p).get("writeOnly")}
    return {n for n in names if n not in props or flatten(props[n]).get("writeOnly")}


def write_only_fields(res: Resource) -> set[str]:
    """The writeOnly properties of a resource's create body."""
    return {n for n, p in (res.create_schema.get("properties") or {}).items() if flatten(p).get("writeOnly")}


def check_write_only(ctx: Context) -> tuple[Findings, str]:
    """No writeOnly field (nor a secret sent in one) comes back, unless the response schema declares it."""
    found = Findings(WRITE_ONLY)
    full = ctx.need("full", "a full-access key")
    targets = [res for res in ctx.resources.values() if res.create is not None and write_only_fields(res)]
    if not targets:
        raise Skip("the spec marks no writeOnly request field")
    ctx.setup()

    def inspect(op: Operation, response: requests.Response, res: Resource, sent: list[tuple[str, str]]) -> None:
        if response.status_code >= 300:
            return
        banned = forbidden_fields(op, response.status_code, res)
        body = json_or_none(response)
        data = res.rows_of(body) if op is res.listing else res.record_of(op, body)
        for row in data if isinstance(data, list) else [data]:
            leaked = sorted(banned & set(row)) if isinstance(row, dict) else []
            if leaked:
                found.add(
                    "", f"{op.operation_id} returned writeOnly field(s) {', '.join(leaked)}", response, client=full
                )
                return
        for name, value in sent:
            if name in banned and value in response.text:
                found.add(
                    "", f"{op.operation_id} echoed the value sent in the writeOnly field {name}", response, client=full
                )
                return

    for res in targets:
        create = res.create
        assert create is not None
        body = ctx.build_body(res)
        if body is None:
            continue
        names = write_only_fields(res)
        sent = [(n, str(body[n])) for n in sorted(names) if isinstance(body.get(n), str) and len(str(body[n])) >= 8]
        response = ctx.send(full, create, create.path, res.wrap(create, body))
        inspect(create, response, res, sent)
        record_id = res.id_of(res.record_of(create, json_or_none(response)))
        if response.status_code >= 300 or record_id is None:
            continue
        ctx.extra.append((res, record_id))
        get = res.get
        if get is not None:
            inspect(get, ctx.send(full, get, ctx.path(get, record_id)), res, sent)
        if res.listing is not None:
            params: dict[str, Any] = {}
            text = ctx.marker_field(res.create_schema)
            if any(p.get("name") == "search" for p in res.listing.query_params()) and text and text in body:
                params["search"] = body[text]
            inspect(res.listing, ctx.send(full, res.listing, res.collection, params=params), res, sent)
        for method in ("PATCH", "PUT"):
            op = res.item_op(method)
            if op is None or op.body_schema is None:
                continue
            fields = res.body_envelope(op).inner(op.body_schema)
            update = ctx.build_body(res, schema=fields) if method == "PUT" else {}
            if update is None:
                continue
            for name in sorted(names):
                if name in (fields.get("properties") or {}) and name in body:
                    update[name] = f"{body[name]}-{method.lower()}"
                    sent.append((name, update[name]))
            if not update:
                continue
            inspect(op, ctx.send(full, op, ctx.path(op, record_id), res.wrap(op, update)), res, sent)
            if get is not None:
                inspect(get, ctx.send(full, get, ctx.path(get, record_id)), res, sent)
    return found, ""


def update_of(res: Resource) -> Operation | None:
    """The item's update: PATCH, else PUT, else a POST on the item path (Stripe's and Xero's way)."""
    return res.item_op("PATCH") or res.item_op("PUT") or res.item_op("POST")


def wrong_value(prop: Schema, server: Any, rng: random.Random) -> Any:
    """A schema-valid value for a readOnly field that differs from what the server holds, or None."""
    prop = flatten(prop)
    if prop.get("enum"):
        options = [v for v in prop["enum"] if v != server and v is not None]
        return rng.choice(options) if options else None
    kind = main_type(prop)
    if kind == "string":
        fmt = prop.get("format")
        if fmt == "date-time":
            return "2001-02-03T04:05:06Z"
        if fmt == "date":
            return "2001-02-03"
        if prop.get("pattern") or fmt:
            return None
        return "forged"
    if kind == "integer":
        low, high = int(prop.get("minimum", 0)), int(prop.get("maximum", 10**9))
        base = server if isinstance(server, int) else low
        value = base + 100_000 + rng.randrange(1000)
        return value if value <= high else (low if low != server else None)
    if kind == "number":
        ceiling = float(prop.get("maximum", 10**9))
        shifted = float(server if isinstance(server, (int, float)) else 0) + 7.25
        return shifted if shifted <= ceiling else None
    if kind == "boolean":
        return not bool(server)
    return None


def check_read_only(ctx: Context) -> tuple[Findings, str]:
    """A wrong value for a readOnly field is rejected (400/422) or ignored on create and update, never stored."""
    found = Findings(READ_ONLY)
    full = ctx.need("full", "a full-access key")
    made = ctx.setup()
    for record in made:
        res = record.resource
        props = res.create_schema.get("properties") or {}
        reference = record.snapshot if isinstance(record.snapshot, dict) else record.response
        fields = [
            name
            for name, prop in props.items()
            if flatten(prop).get("readOnly") and main_type(flatten(prop)) not in ("array", "object", "")
        ]
        if not fields or res.get is None:
            continue
        get = res.get
        for name in fields:
            server = reference.get(name) if isinstance(reference, dict) else None
            forged = wrong_value(props[name], server, ctx.rng)
            if forged is None:
                continue
            # on create
            body = ctx.build_body(res)
            create = res.create
            if body is not None and create is not None:
                body[name] = forged
                response = ctx.send(full, create, create.path, res.wrap(create, body))
                data = res.record_of(create, json_or_none(response))
                if response.status_code >= 500:
                    found.add("", f"{create.operation_id} with a wrong readOnly {name} failed", response, client=full)
                elif response.status_code < 300 and isinstance(data, dict):
                    new_id = res.id_of(data)
                    if new_id is not None:
                        ctx.extra.append((res, new_id))
                    if data.get(name) == forged:
                        found.add(
                            "",
                            f"{create.operation_id} stored the readOnly {name} as sent ({forged!r})",
                            response,
                            client=full,
                        )
                    elif new_id is not None:
                        again = ctx.send(full, get, ctx.path(get, new_id))
                        stored = res.record_of(get, json_or_none(again))
                        if isinstance(stored, dict) and stored.get(name) == forged:
                            found.add(
                                "",
                                f"{create.operation_id} stored the readOnly {name} as sent ({forged!r})",
                                again,
                                client=full,
                            )
            # on update
            op = update_of(res)
            if op is None or op.body_schema is None:
                continue
            shape = res.body_envelope(op).inner(op.body_schema)
            update = {} if op.method == "PATCH" else ctx.build_body(res, schema=shape)
            if update is None:
                continue
            update[name] = forged
            response = ctx.send(full, op, ctx.path(op, record.id), res.wrap(op, update))
            if response.status_code >= 500:
                found.add("", f"{op.operation_id} with a wrong readOnly {name} failed", response, client=full)
                continue
            if response.status_code >= 300:
                continue
            data = res.record_of(op, json_or_none(response))
            if isinstance(data, dict) and data.get(name) == forged:
                found.add(
                    "", f"{op.operation_id} stored the readOnly {name} as sent ({forged!r})", response, client=full
                )
                continue
            again = ctx.send(full, get, ctx.path(get, record.id))
            stored = res.record_of(get, json_or_none(again))
            if again.status_code != 200 or (isinstance(stored, dict) and stored.get(name) == forged):
                found.add(
                    "",
                    f"after {op.operation_id} with {name}={forged!r} the record reads back wrong",
                    again,
                    client=full,
                )
            if isinstance(stored, dict) and record.stable:
                record.snapshot = stored
    return found, ""
