"""What the spec documents about rate limits: the headers, the 429 answer, and a cheap GET to spend a budget on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from contracts.ratelimit.headers import FAMILIES, KNOWN, REMAINING, RETRY_AFTER
from contracts.security.spec_view import Operation, Spec

LIMITED = 429


def response(op: Operation, status: int) -> dict[str, Any]:
    """The response documented for ``status`` (or its ``4XX``/``2XX`` entry; ``default`` only for errors)."""
    entry = op.responses.get(str(status)) or op.responses.get(f"{str(status)[0]}XX")
    if entry is None and status >= 400:
        entry = op.responses.get("default")
    return entry if isinstance(entry, dict) else {}


def header_names(op: Operation, status: int) -> dict[str, str]:
    """The headers documented on one answer: lower-case name to the name as the spec spells it."""
    headers = response(op, status).get("headers") or {}
    return {str(name).lower(): str(name) for name in headers}


def documented(spec: Spec) -> list[str]:
    """Every rate-limit header the spec documents on any answer, as it spells them."""
    found: dict[str, str] = {}
    for op in spec.operations:
        for status in op.responses:
            if status.isdigit():
                for lower, name in header_names(op, int(status)).items():
                    if lower in KNOWN:
                        found.setdefault(lower, name)
    return sorted(found.values())


@dataclass(frozen=True)
class Probe:
    """The operation the suite spends its requests on, and what the spec says its answers carry."""

    op: Operation
    headers: dict[str, str]  # rate-limit headers documented on its success answer (lower case -> as spelled)
    limited: dict[str, Any]  # its documented 429 answer ({} when it documents none)

    @property
    def families(self) -> list[str]:
        """The header families documented on its success answer (``X-RateLimit`` first)."""
        return [family for family, names in FAMILIES.items() if any(name in self.headers for name in names)]

    @property
    def remaining_headers(self) -> dict[str, str]:
        """Per family, the documented header that says how many requests are left, as spelled."""
        found: dict[str, str] = {}
        for family, names in REMAINING.items():
            name = next((self.headers[lower] for lower in names if lower in self.headers), None)
            if name is not None:
                found[family] = name
        return found

    @property
    def documents_retry_after(self) -> bool:
        """Whether its 429 answer documents ``Retry-After``."""
        return RETRY_AFTER in {str(name).lower() for name in self.limited.get("headers") or {}}

    def error_schema(self) -> tuple[list[str], dict[str, Any] | None]:
        """The 429 answer's media types and its JSON schema (None when it documents none)."""
        content = self.limited.get("content") or {}
        schema = next(
            (dict(v["schema"]) for k, v in content.items() if str(k).endswith("json") and isinstance(v, Mapping)),
            None,
        )
        return [str(media) for media in content], schema


def probes(spec: Spec) -> list[Probe]:
    """Cheap GETs (no path or required parameter) documenting rate-limit headers, best first.

    Best: needs a key (a public operation's budget is usually per address, shared with others), needs no scope,
    documents its 429, has the shortest path.
    """
    found: list[Probe] = []
    for op in spec.operations:
        if op.method != "GET" or op.path_params or any(p.get("required") for p in op.parameters):
            continue
        headers = {lower: name for lower, name in header_names(op, op.success).items() if lower in KNOWN}
        if headers:
            found.append(Probe(op, headers, response(op, LIMITED) if str(LIMITED) in op.responses else {}))
    scopes = {id(p): sum(len(alt) for alt in p.op.scope_alternatives()[:1]) for p in found}
    return sorted(found, key=lambda p: (p.op.public, not p.limited, scopes[id(p)], len(p.op.path)))


def compile_schema(spec: Spec, schema: Any) -> jsonschema_rs.Validator:
    """A JSON Schema 2020-12 validator of ``schema`` whose local ``$ref``s resolve against the whole spec."""
    holders = {k: v for k, v in spec.document.items() if k in ("components", "paths", "webhooks")}
    return jsonschema_rs.Draft202012Validator({**holders, **schema}, validate_formats=True)
