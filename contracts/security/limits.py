"""``security.limits``: parameters out of bounds are 400 (never clamped); body strings above maxLength are 422."""

from __future__ import annotations

import re
from typing import Any

from contracts.security.findings import Findings
from contracts.security.fixtures import Context
from contracts.security.spec_view import Schema, flatten, json_or_none, main_type, unwrap

LIMITS = "security.limits"


def check_limits(ctx: Context) -> tuple[Findings, str]:
    """Parameters beyond their bounds are 400, never clamped; body strings above maxLength are 422."""
    found = Findings(LIMITS)
    full = ctx.need("full", "a full-access key")
    for op in ctx.spec.operations:
        if op.method != "GET" or op.path_params or op.public:
            continue
        base = ctx.required_params(op)
        for param in op.query_params():
            name = str(param.get("name"))
            schema = flatten(param.get("schema") or {})
            bad: list[Any] = []
            if main_type(schema) == "integer":
                if "maximum" in schema:
                    bad.append(int(schema["maximum"]) + 1)
                if "minimum" in schema:
                    bad += sorted({int(schema["minimum"]) - 1, -1}, reverse=True)
            elif main_type(schema) == "string" and "maxLength" in schema and not schema.get("enum"):
                bad.append("x" * (int(schema["maxLength"]) + 1))
            for value in bad:
                response = full.call("GET", op.path, params={**base, name: value})
                if response.status_code != 400:
                    shown = value if not isinstance(value, str) else f"<{len(value)} characters>"
                    meta = json_or_none(response)
                    clamped = (
                        response.status_code == 200
                        and isinstance(meta, dict)
                        and isinstance(meta.get("meta"), dict)
                        and name == "limit"
                    )
                    how = " (silently clamped)" if clamped else ""
                    found.add(
                        full,
                        f"{op.operation_id} with {name}={shown} answered {response.status_code}{how}, not 400",
                        response,
                    )
    if ctx.has("full"):
        for res in ctx.resources.values():
            if res.create is None:
                continue
            props = res.create_schema.get("properties") or {}
            for name, prop in props.items():
                prop = flatten(prop)
                if prop.get("readOnly") or main_type(prop) != "string" or "maxLength" not in prop or prop.get("enum"):
                    continue
                value = too_long(prop)
                if value is None:
                    continue
                body = ctx.build_body(res)
                if body is None:
                    break
                body[name] = value
                response = full.call("POST", res.collection, json_body=body)
                if response.status_code != 422:
                    found.add(
                        full,
                        f"{res.create.operation_id} with {name} of {len(value)} characters "
                        f"(maxLength {prop['maxLength']}) answered {response.status_code}, not 422",
                        response,
                    )
                    data = unwrap(json_or_none(response))
                    if response.status_code < 300 and isinstance(data, dict) and "id" in data:
                        ctx.extra.append((res, data["id"]))
    return found, ""


def too_long(prop: Schema) -> str | None:
    """A string one character above ``maxLength`` that still has the property's format and pattern."""
    length = int(prop["maxLength"]) + 1
    fmt = prop.get("format")
    if fmt == "email":
        value = "a" * (length - len("@example.com")) + "@example.com"
    elif fmt in ("uri", "url"):
        value = "https://example.com/" + "a" * (length - len("https://example.com/"))
    elif fmt:
        return None
    else:
        value = "x" * length
    pattern = prop.get("pattern")
    if pattern and not re.search(str(pattern), value):
        return None
    return value if len(value) == length else None
