"""Where the spec documents idempotency: operations that take an idempotency key header, and the replay marker.

The key header is the header parameter whose name, without case or separators, ends in ``idempotencykey``
(``Idempotency-Key``, ``idempotency_key``, ``X-Idempotency-Key``): whatever the spec calls it, the suite sends
the key under that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.security.identity import normalized
from contracts.security.resources import Resource, ref_target
from contracts.security.spec_view import Operation, Spec, flatten, main_type

KEY_HEADER = "idempotencykey"  # a key header's name ends in this, without case or separators
REPLAYED_HEADER = "idempotent-replayed"
SEARCH_PARAMS = ("search", "q", "query")
METHODS = ("POST", "PUT", "PATCH")


def key_header(op: Operation) -> str | None:
    """The name of the operation's idempotency key header parameter as the spec spells it, or None."""
    for param in op.parameters:
        name = str(param.get("name") or "")
        if param.get("in") == "header" and normalized(name).endswith(KEY_HEADER):
            return name
    return None


def idempotent_operations(spec: Spec) -> list[Operation]:
    """Every POST, PUT and PATCH that documents an idempotency key header (``$ref``s resolved)."""
    return [op for op in spec.operations if op.method in METHODS and key_header(op) is not None]


def response_headers(op: Operation, status: int) -> dict[str, Any]:
    """The headers documented for ``status`` (or its ``2XX``/``default`` entry), by lower-case name."""
    entry = op.responses.get(str(status)) or op.responses.get(f"{str(status)[0]}XX") or op.responses.get("default")
    headers = entry.get("headers") if isinstance(entry, dict) else None
    return {str(name).lower(): value for name, value in (headers or {}).items()}


def documents_replayed(op: Operation, status: int) -> bool:
    """Whether the response ``status`` of ``op`` documents the ``Idempotent-Replayed`` header."""
    return REPLAYED_HEADER in response_headers(op, status)


def refusal_statuses(op: Operation) -> tuple[int, ...]:
    """What a reused key with another body may answer: 422, and 400 where ``op`` documents a 400 and no 422.

    422 is the IETF draft's answer; an operation that documents only 400 for a refused request cannot say 422
    without leaving its contract, so 400 is its refusal (as the sandbox answers it).
    """
    codes = set(op.responses)
    return (422, 400) if "400" in codes and not codes & {"422", "4XX"} else (422,)


def search_param(listing: Operation | None) -> str | None:
    """The listing's free-text search parameter (``search``, ``q`` or ``query``), or None."""
    if listing is None:
        return None
    names = {
        str(p.get("name")) for p in listing.query_params() if main_type(flatten(p.get("schema") or {})) == "string"
    }
    return next((name for name in SEARCH_PARAMS if name in names), None)


@dataclass(frozen=True)
class Subject:
    """A create operation that takes an idempotency key: where a replay done twice shows, as a second record."""

    resource: Resource
    op: Operation
    header: str
    references: bool  # its body must point at other records (so another company cannot send the same body)
    searchable: bool  # its listing can search for the record's text, to count records

    @property
    def name(self) -> str:
        """``METHOD /path``."""
        return f"{self.op.method} {self.op.path}"


def subjects(resources: dict[str, Resource]) -> list[Subject]:
    """The create operations with a documented key, those that need no reference and can be counted first."""
    found: list[Subject] = []
    for res in resources.values():
        header = key_header(res.create) if res.create is not None else None
        if res.create is None or header is None:
            continue
        props = res.create_schema.get("properties") or {}
        wanted = set(res.create_schema.get("required") or []) | {
            name for name, prop in props.items() if flatten(prop).get("writeOnly")
        }
        refs = any(ref_target(name, flatten(props[name]), resources) for name in wanted if name in props)
        found.append(Subject(res, res.create, header, refs, search_param(res.listing) is not None))
    return sorted(found, key=lambda s: (s.references, not s.searchable))
