"""``security.limits``: parameters out of bounds are 400 (never clamped); body strings above maxLength are 422.

A body is 400 instead where its operation documents a 400 and no 422 (Xero's validation errors).
"""

from __future__ import annotations

import re
from typing import Any

from contracts.checking import Findings
from contracts.security.fixtures import Context
from contracts.security.spec_view import Operation, Schema, flatten, json_or_none, main_type

LIMITS = "security.limits"


def check_limits(ctx: Context) -> tuple[Findings, str]:
    """Parameters beyond their bounds are 400, never clamped; body strings above maxLength are 422."""
    found = Findings(LIMITS)
    full = ctx.need("full", "a full-access key")
    for op in ctx.spec.operations:
        if op.method != "GET" or op.path_params or op.public:
            continue
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
                response = ctx.send(full, op, op.path, params={name: value})
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
                        "",
                        f"{op.operation_id} with {name}={shown} answered {response.status_code}{how}, not 400",
                        response,
                        client=full,
                    )
    if ctx.has("full"):
        for res in ctx.resources.values():
            create = res.create
            if create is None:
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
                response = ctx.send(full, create, create.path, res.wrap(create, body))
                expected = invalid_status(create)
                if response.status_code != expected:
                    found.add(
                        "",
                        f"{create.operation_id} with {name} of {len(value)} characters "
                        f"(maxLength {prop['maxLength']}) answered {response.status_code}, not {expected}",
                        response,
                        client=full,
                    )
                    made_id = res.id_of(res.record_of(create, json_or_none(response)))
                    if response.status_code < 300 and made_id is not None:
                        ctx.extra.append((res, made_id))
    return found, ""


def invalid_status(op: Operation) -> int:
    """The status ``op`` documents for an invalid body: 422, or 400 where it lists a 400 and no 422 (Xero's)."""
    codes = set(op.responses)
    return 400 if "400" in codes and "422" not in codes and "4XX" not in codes else 422


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
