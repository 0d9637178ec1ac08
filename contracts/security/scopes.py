"""``security.scopes``: the read-only key gets 403 naming the missing scope on every write, and changes nothing.

A write whose security names no scope at all (an API key or HTTP scheme in OpenAPI 3.0) still needs more
than a read-only key: it must be 403 too, with no scope to name.
"""

from __future__ import annotations

from typing import Any

from contracts.checking import Findings, Skip
from contracts.http import Client
from contracts.security.fixtures import Context
from contracts.security.resources import Resource
from contracts.security.spec_view import (
    Json,
    Operation,
    Schema,
    flatten,
    json_or_none,
    main_type,
    record_schema,
    unwrap,
)

SCOPES = "security.scopes"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def check_scopes(ctx: Context) -> tuple[Findings, str]:
    """The read-only key gets 403 naming the missing scope on every write, and nothing changes."""
    found = Findings(SCOPES)
    full = ctx.need("full", "a full-access key")
    readonly = ctx.need("readonly", "a read-only key of the same company")
    if not any(op.requires_key for op in ctx.spec.operations):
        raise Skip("the spec requires a credential on no operation: a read-only key is no different from any other")
    made = ctx.setup()
    granted = key_scopes(ctx, readonly)
    by_path = {record.resource.collection: record for record in made}
    totals_before = collection_totals(ctx, full)
    writes = [op for op in ctx.spec.operations if op.method in WRITES and not op.public]
    writes.sort(key=lambda op: op.method == "DELETE")
    for op in writes:
        alternatives = op.scope_alternatives()
        missing = [[s for s in alt if not allowed(s, granted)] for alt in alternatives]
        if any(alternatives) and any(not m for m in missing):
            continue  # the read-only key has every scope one alternative asks for
        res = ctx.resource_of(op)
        record = by_path.get(res.collection) if res is not None else None
        record_id: Any = None
        if op.path_params:
            listed = ctx.listed_id(res.collection, "full") if res is not None and record is None else None
            record_id = record.id if record is not None else listed or 1
        body = write_body(ctx, res, op)
        path = ctx.path(op, record_id) if op.path_params else op.path
        response = ctx.send(readonly, op, path, body)
        names = [s for alt in missing for s in alt]
        if response.status_code != 403:
            found.add(
                "",
                f"{op.operation_id} with a read-only key answered {response.status_code}, not 403",
                response,
                client=readonly,
            )
            if response.status_code < 300 and res is not None and not op.path_params:
                made_id = res.id_of(res.record_of(op, json_or_none(response)))
                if made_id is not None and op is res.create:
                    ctx.extra.append((res, made_id))
        elif names and not any(name in response.text for name in names):
            found.add(
                "",
                f"{op.operation_id}: the 403 does not name the missing scope ({' or '.join(names)})",
                response,
                client=readonly,
            )
    for record in made:
        get = record.resource.get
        if record.snapshot is None or get is None:
            continue
        response = ctx.send(full, get, ctx.path(get, record.id))
        if response.status_code != 200 or record.resource.record_of(get, json_or_none(response)) != record.snapshot:
            found.add(
                "",
                f"{record.resource.name} {record.id} changed after the read-only key's writes",
                response,
                client=full,
            )
    totals_after = collection_totals(ctx, full)
    for collection, total in totals_before.items():
        if totals_after.get(collection) != total:
            found.add(
                "",
                f"GET {collection} counted {total} records before the read-only key's writes and "
                f"{totals_after.get(collection)} after",
            )
    return found, ""


def write_body(ctx: Context, res: Resource | None, op: Operation) -> Json:
    """The read-only key's body for a write: a marked text for a PATCH, a record for a create or update, else nested."""
    schema = op.body_schema
    if schema is None:
        return None
    if res is None:
        return build_nested(ctx, schema)
    inner = res.body_envelope(op).inner(schema)
    if op.method == "PATCH":
        text = ctx.marker_field(inner)
        return res.wrap(op, {text: f"Contract {ctx.unique()}"} if text else {})
    if res.create is not None and (op is res.create or op.path in (res.collection, res.item)):
        built = ctx.build_body(res, schema=inner)
        return res.wrap(op, built) if built is not None else None
    return build_nested(ctx, schema)


def build_nested(ctx: Context, schema: Schema) -> Json:
    """A body for a non-resource operation: required fields, built recursively (arrays get one element)."""
    props = schema.get("properties") or {}
    if not props:
        return ctx.sample(schema)
    body: dict[str, Any] = {}
    for name in schema.get("required") or []:
        prop = flatten(props.get(name) or {})
        if main_type(prop) == "array":
            items = flatten(prop.get("items") or {})
            body[name] = [build_nested(ctx, items)] if items.get("properties") else [ctx.sample(items)]
        elif prop.get("properties"):
            body[name] = build_nested(ctx, prop)
        elif not prop.get("readOnly"):
            body[name] = ctx.field_value(name, prop, {})
    return body


def allowed(scope: str, granted: set[str] | None) -> bool:
    """Whether the key has a scope (unknown key scopes: read scopes only, as a read-only key should)."""
    if granted is None:
        return scope.endswith(":read")
    return scope in granted


def key_scopes(ctx: Context, client: Client) -> set[str] | None:
    """The key's scopes as an operation documenting ``api_key.scopes`` (``GET /me``) reports them."""
    for op in ctx.spec.operations:
        if op.method != "GET" or op.path_params or op.public:
            continue
        schema = record_schema(op.response_schema(200)) or {}
        key = flatten((schema.get("properties") or {}).get("api_key") or {})
        if "scopes" not in (key.get("properties") or {}):
            continue
        data = unwrap(json_or_none(ctx.send(client, op, op.path)))
        scopes = data.get("api_key", {}).get("scopes") if isinstance(data, dict) else None
        if isinstance(scopes, list):
            return {str(s) for s in scopes}
    return None


def collection_totals(ctx: Context, client: Client) -> dict[str, Any]:
    """``meta.total`` (or the row count) of every collection's list, as the full key sees it."""
    totals: dict[str, Any] = {}
    for res in ctx.resources.values():
        if res.listing is None or (res.item is None and res.create is None):
            continue  # not a collection of records (``/me``, a report): nothing a write could add to
        response = ctx.send(client, res.listing, res.collection)
        body = json_or_none(response)
        if response.status_code != 200:
            continue
        meta = body.get("meta") if isinstance(body, dict) else None
        rows = res.rows_of(body)
        if isinstance(meta, dict) and "total" in meta:
            totals[res.collection] = meta["total"]
        elif rows is not None and all(isinstance(row, dict) for row in rows):  # records, not dates or names
            totals[res.collection] = len(rows)
    return totals
