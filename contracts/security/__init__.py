"""The security suite: tenancy (BOLA), scopes, authentication, writeOnly/readOnly fields and input limits.

Everything is derived from the spec, never from a list of resources: the operations and their
``security`` requirements, path shapes (``/things``, ``/things/{id}``, ``/things/{id}/verb``), request
schemas with their ``required``, ``readOnly``, ``writeOnly`` and ``maxLength`` marks, the documented
examples, and parameter bounds. References (``customer_id``) point at records the suite creates first
(``x-sandbox-ref`` when the spec gives it, else the ``<thing>_id`` naming convention), or at ids it
reads from lists for resources that cannot be created (currencies, accounts, ...).

Rules:

- ``security.bola`` (the tenancy check, ``tenancy``): another company's key gets 404 on every item
  operation on our records and its lists never show them (``security.bola``); the same for actions under
  the record, which also change nothing (``security.bola.actions``), sub-collections
  (``security.bola.nested``), PDFs and exports (``security.bola.documents``); a text only our records hold
  finds nothing in its searches (``security.bola.search``), and records we add never move its reports
  (``security.bola.reports``). A 4xx that a record which does not exist gets too (a body refused before
  any lookup) is noted, not failed; a search or report that could not show a leak is named in the reason.
- ``security.scopes``: the read-only key gets 403 naming the missing scope on every write, and changes nothing.
- ``security.auth``: expired, unknown and missing keys get 401; public operations answer without a key.
- ``security.write_only``: writeOnly fields never appear in a response unless its schema declares them.
- ``security.read_only``: a wrong readOnly value sent on create or update is rejected or ignored, never stored.
- ``security.limits``: parameters out of their declared bounds are 400 (never clamped); strings
  above ``maxLength`` in a body are 422.

Every choice (the marker written into records, wrong values) comes from ``random.Random(target.seed)``.

Records are found the way the spec describes them: the id is the field the item path's parameter names
(``{AccountID}``), creates are a POST on the collection, a PUT on it that says it creates, or a POST on
``/collection/create``, bodies and answers may wrap the record (``{"data": ...}``, ``{"Things": [...]}``),
and bodies go in the media type the spec gives (JSON, or an urlencoded form with deepObject keys).

Layout: ``spec_view``, ``identity``, ``envelopes``, ``creates`` and ``resources`` read the spec, ``fixtures``
builds bodies and records (``wire`` sends forms), ``findings`` collects failures; ``auth``, ``limits``,
``fields``, ``tenancy`` (with ``searches`` and ``reports``) and ``scopes`` hold the checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import requests

from contracts.checking import Findings, Skip
from contracts.meter import Throttled
from contracts.results import NO_ANSWER, RATE_LIMITED, CheckResult, Failure, Outcome, judged
from contracts.security.auth import AUTH, check_auth
from contracts.security.fields import (
    READ_ONLY,
    WRITE_ONLY,
    check_read_only,
    check_write_only,
    forbidden_fields,
    write_only_fields,
    wrong_value,
)
from contracts.security.fixtures import Context, Created
from contracts.security.limits import LIMITS, check_limits, too_long
from contracts.security.resources import Resource, find_resources, ref_target
from contracts.security.scopes import SCOPES, check_scopes
from contracts.security.spec_view import Operation, Spec, flatten
from contracts.security.tenancy import BOLA, check_bola
from contracts.suites import Entry
from contracts.target import Target

__all__ = [
    "AUTH",
    "BOLA",
    "CHECKS",
    "LIMITS",
    "READ_ONLY",
    "SCOPES",
    "SUITE",
    "WRITE_ONLY",
    "Context",
    "Created",
    "Findings",
    "Operation",
    "Resource",
    "Skip",
    "Spec",
    "find_resources",
    "flatten",
    "forbidden_fields",
    "ref_target",
    "run",
    "too_long",
    "write_only_fields",
    "wrong_value",
]

SUITE = "security"

Check = Callable[[Context], tuple[Findings, str]]
CHECKS: tuple[tuple[str, str, Check], ...] = (
    ("auth", AUTH, check_auth),
    ("limits", LIMITS, check_limits),
    ("write_only", WRITE_ONLY, check_write_only),
    ("read_only", READ_ONLY, check_read_only),
    ("bola", BOLA, check_bola),
    ("scopes", SCOPES, check_scopes),
)


def run(target: Target) -> Iterator[CheckResult]:
    """Run every security check against ``target``, one CheckResult each."""
    ctx = Context(target)
    try:
        for name, rule, check in CHECKS:
            yield _run_check(ctx, name, rule, check)
    finally:
        ctx.cleanup()


ENTRY = Entry(SUITE, run, default=True)


def _run_check(ctx: Context, name: str, rule: str, check: Check) -> CheckResult:
    """One check, judged: a finding about a 429 or about no answer at all is not a breach (see ``judged``)."""
    label = f"{SUITE}/{name}"
    ctx.target.meter.now(label)
    started = time.monotonic()
    try:
        findings, reason = check(ctx)
    except Skip as skip:
        return CheckResult(SUITE, label, Outcome.SKIPPED, reason=str(skip), seconds=time.monotonic() - started)
    except Throttled as exc:
        return judged(SUITE, label, [Failure(rule, str(exc), status=RATE_LIMITED)], seconds=time.monotonic() - started)
    except requests.RequestException as exc:
        failure = Failure(rule, f"the target could not be reached: {exc}", status=NO_ANSWER)
        return judged(SUITE, label, [failure], seconds=time.monotonic() - started)
    result = judged(SUITE, label, findings.failures, reason=reason, seconds=time.monotonic() - started)
    ctx.target.meter.found(len(result.failures) if result.outcome is Outcome.FAILED else 0)
    return result
