"""Judging a refusal the spec documents: the right status, and field errors that blame the field sent wrong."""

from __future__ import annotations

from typing import Any

from contracts.rules.context import Findings
from contracts.security.spec_view import json_or_none


def blames(response: Any, name: str) -> bool:
    """Whether a refusal may be about ``name``: its field errors (``errors: {field: ...}``) name it, or it has none."""
    body = json_or_none(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict) or not errors:
        return True
    return any(name in str(key) for key in errors)


def expect_refused(
    found: Findings,
    rule: str,
    where: str,
    response: Any,
    allowed: frozenset[int],
    name: str,
    *,
    made: str = "",
    noted: str | None = None,
) -> bool:
    """``response`` (to ``where``, which sent ``name`` wrong) must be one of ``allowed``; whether it was.

    A failure names the documented statuses and ``made`` (what the target created anyway); a refusal whose
    field errors name only other fields is noted under ``noted`` (default ``where``), never counted.
    """
    if response.status_code not in allowed:
        codes = "/".join(map(str, sorted(allowed)))
        found.add(rule, f"{where} must be refused with {codes}; it answered {response.status_code}{made}", response)
        return False
    if not blames(response, name):
        found.note(f"{noted or where}: refused, but its errors name other fields")
    return True
