"""``security.scopes``: the read-only key gets 403 naming the missing scope on every write, and changes nothing.

A write whose security names no scope at all (an API key or HTTP scheme in OpenAPI 3.0) still needs more
than a read-only key: it must be 403 too, with no scope to name.
"""

from __future__ import annotations

from typing import Any

from contracts.http import Client
from contracts.security.findings import Findings
from contracts.security.fixtures import Context
from contracts.security.spec_view import Json, Schema, flatten, json_or_none, main_type, record_schema, unwrap

SCOPES = "security.scopes"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def check_scopes(ctx: Context) -> tuple[Findings, str]:
    """The read-only key gets 403 naming the missing scope on every write, and nothing changes."""
    found = Findings(SCOPES)
    full = ctx.need("full", "a full-access key")
    readonly = ctx.need("readonly", "a read-only key of the same company")
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
        collection = "/" + op.segments[0]
        record = by_path.get(collection)
        record_id: Any = None
        if op.path_params:
            record_id = record.id if record is not None else ctx.listed_id(collection, "full") or 1
        res = ctx.resources.get(collection)
        body: Json = None
        if op.body_schema is not None:
            if op.method == "PATCH":
                text = ctx.marker_field(op.body_schema)
                body = {text: f"Contract {ctx.unique()}"} if text else {}
            elif res is not None and res.create is not None and (op.path in (res.collection, res.item)):
                body = ctx.build_body(res, schema=op.body_schema)
            else:
                body = build_nested(ctx, op.body_schema)
        path = ctx.path(op, record_id) if op.path_params else op.path
        response = readonly.call(op.method, path, json_body=body, params=ctx.required_params(op))
        names = [s for alt in missing for s in alt]
        message = json_or_none(response)
        text = str(message.get("message", "")) if isinstance(message, dict) else response.text
        if response.status_code != 403:
            found.add(
                readonly, f"{op.operation_id} with a read-only key answered {response.status_code}, not 403", response
            )
            if response.status_code < 300:
                data = unwrap(json_or_none(response))
                if op.method == "POST" and not op.path_params and isinstance(data, dict) and "id" in data and res:
                    ctx.extra.append((res, data["id"]))
        elif names and not any(name in text for name in names):
            found.add(
                readonly,
                f"{op.operation_id}: the 403 does not name the missing scope ({' or '.join(names)})",
                response,
            )
    for record in made:
        if record.snapshot is None or record.resource.get is None:
            continue
        response = full.call("GET", ctx.path(record.resource.get, record.id))
        if response.status_code != 200 or unwrap(json_or_none(response)) != record.snapshot:
            found.add(full, f"{record.resource.name} {record.id} changed after the read-only key's writes", response)
    totals_after = collection_totals(ctx, full)
    for collection, total in totals_before.items():
        if totals_after.get(collection) != total:
            found.note(
                f"GET {collection} counted {total} records before the read-only key's writes and "
                f"{totals_after.get(collection)} after"
            )
    return found, ""


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
        data = unwrap(json_or_none(client.call("GET", op.path)))
        scopes = data.get("api_key", {}).get("scopes") if isinstance(data, dict) else None
        if isinstance(scopes, list):
            return {str(s) for s in scopes}
    return None


def collection_totals(ctx: Context, client: Client) -> dict[str, Any]:
    """``meta.total`` (or the row count) of every resource list, as the full key sees it."""
    totals: dict[str, Any] = {}
    for res in ctx.resources.values():
        if res.listing is None:
            continue
        response = client.call("GET", res.collection, params=ctx.required_params(res.listing))
        body = json_or_none(response)
        if response.status_code != 200:
            continue
        meta = body.get("meta") if isinstance(body, dict) else None
        if isinstance(meta, dict) and "total" in meta:
            totals[res.collection] = meta["total"]
        elif isinstance(unwrap(body), list):
            totals[res.collection] = len(unwrap(body))
    return totals
