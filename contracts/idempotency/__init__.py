"""The idempotency suite: what the spec's ``Idempotency-Key`` header promises, checked on the create operations.

Read from the spec: the POST, PUT and PATCH operations that document an idempotency key header parameter
(``Idempotency-Key`` in any casing or spelling, ``X-Idempotency-Key``; ``$ref``s to ``components/parameters``
resolved), and whether each response documents the ``Idempotent-Replayed`` header. The checks run on the
create operations among them (a collection's create as the security suite finds it: ``POST /things``, a
``PUT /Things`` that says it creates, ``POST /things/create``), where a request done twice shows as a second
record. Requests go as the spec describes them (``Context.send``: required headers such as Xero's
``xero-tenant-id``, the body in its wrapper and media type, the key under the spec's name for the header);
bodies come from the spec as in the security suite, with a marker unique to the run in a text field, and
every key is new to the run.

Checks and rules:

- ``idempotency/replay``: per create operation, the same key and body sent again gets the same status and body
  (``idempotency.replay``), and creates no second record (counted with the listing's search for the marker);
  the replay carries ``Idempotent-Replayed: true`` and the first answer does not, where the spec documents that
  header on the answer (``idempotency.replayed_header``).
- ``idempotency/mismatch`` (``idempotency.mismatch``): the same key with another body is 422 (or 400, where
  the operation documents a 400 and no 422: the refusal it can give without leaving its contract).
- ``idempotency/concurrency`` (``idempotency.concurrency``): five requests sent at once with one key and body
  create one record: every 2xx answer carries the same id, the others are 409 (the first is still running),
  the key then answers that record, and the search finds one.
- ``idempotency/per company`` (``idempotency.per_company``): keys are per company: the key and body we used,
  sent with another company's key (``--key other=...``), create that company's own record (not a replay of ours).

Skipped with the reason: a spec without the header, no create operation among the operations that take it
(those are named), no full key (every check), no key of another company (``per company``).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator

import requests

from contracts.checking import Findings, Skip
from contracts.idempotency.checks import (
    CONCURRENCY,
    MISMATCH,
    PER_COMPANY,
    REPLAY,
    REPLAYED_HEADER,
    check_concurrency,
    check_per_company,
    check_replays,
)
from contracts.idempotency.session import Session
from contracts.idempotency.spec import METHODS, idempotent_operations, subjects
from contracts.meter import Throttled
from contracts.results import NO_ANSWER, RATE_LIMITED, CheckResult, Failure, Outcome, judged
from contracts.security.fixtures import CREATES, Context
from contracts.suites import Entry
from contracts.target import Target

__all__ = ["CONCURRENCY", "MISMATCH", "PER_COMPANY", "REPLAY", "REPLAYED_HEADER", "RULES", "SUITE", "run"]

SUITE = "idempotency"
SETUP = "idempotency.setup"  # the rule of a check that could not run
RULES = (REPLAY, REPLAYED_HEADER, MISMATCH, CONCURRENCY, PER_COMPANY)


def run(target: Target) -> Iterator[CheckResult]:
    """Run the idempotency checks against ``target`` (skipped with the reason when the spec has no key header)."""
    started = time.monotonic()
    try:
        ctx = Context(target)
        operations, found = idempotent_operations(ctx.spec), subjects(ctx.resources)
    except Exception as exc:  # a spec that does not load or resolve stops this suite only
        failure = Failure(SETUP, f"the spec could not be read: {type(exc).__name__}: {exc}")
        yield CheckResult(SUITE, f"{SUITE}/spec", Outcome.ERROR, [failure])
        return
    if not operations:
        writes = sum(1 for op in ctx.spec.operations if op.method in METHODS)
        reason = (
            "the spec documents no Idempotency-Key header parameter (in any spelling, such as X-Idempotency-Key) "
            f"on any of its {writes} POST, PUT or PATCH operations: nothing promised"
        )
        yield _skipped(reason, started)
        return
    if not found:
        named = ", ".join(f"{op.method} {op.path}" for op in operations[:3])
        more = f" and {len(operations) - 3} more" if len(operations) > 3 else ""
        reason = f"no collection's create ({CREATES}) takes an Idempotency-Key header; the operations that do: "
        reason += f"{named}{more}"
        yield _skipped(reason, started)
        return
    session = Session(ctx, found)
    try:
        yield from _replays(session)
        yield _check(session, "concurrency", CONCURRENCY, lambda: _one(check_concurrency(session)))
        yield _check(session, "per company", PER_COMPANY, lambda: _one(check_per_company(session)))
    finally:
        session.cleanup()


ENTRY = Entry(SUITE, run, default=True)


def _replays(session: Session) -> Iterator[CheckResult]:
    """``replay`` and ``mismatch``: one pass over the create operations, two checks."""
    label, started = f"{SUITE}/replay", time.monotonic()
    session.ctx.target.meter.now(label)
    try:
        found = check_replays(session)
    except Exception as exc:  # a check that could not run is reported, never the end of the run
        yield _failed(label, REPLAY, exc, started)
        yield _failed(f"{SUITE}/mismatch", MISMATCH, exc, started)
        return
    seconds = time.monotonic() - started
    yield _judged(session, label, [*found.replay.failures, *found.header.failures], found.reason, seconds)
    if not found.varied:  # nothing was sent under a used key with another body: nothing to judge
        reason = f"no create operation was sent another body under a used key: {found.mismatch_reason}"
        yield CheckResult(SUITE, f"{SUITE}/mismatch", Outcome.SKIPPED, reason=reason)
        return
    yield _judged(session, f"{SUITE}/mismatch", found.mismatch.failures, found.mismatch_reason, 0.0)


def _check(session: Session, name: str, rule: str, check: Callable[[], tuple[list[Failure], str]]) -> CheckResult:
    """One check, judged: a finding about a 429 or about no answer at all is not a breach (see ``judged``)."""
    label, started = f"{SUITE}/{name}", time.monotonic()
    session.ctx.target.meter.now(label)
    try:
        failures, reason = check()
    except Exception as exc:  # a check that could not run is reported, never the end of the run
        return _failed(label, rule, exc, started)
    return _judged(session, label, failures, reason, time.monotonic() - started)


def _one(result: tuple[Findings, str]) -> tuple[list[Failure], str]:
    findings, reason = result
    return findings.failures, reason


def _judged(session: Session, label: str, failures: list[Failure], reason: str, seconds: float) -> CheckResult:
    result = judged(SUITE, label, failures, reason=reason, seconds=seconds)
    session.ctx.target.meter.found(len(result.failures) if result.outcome is Outcome.FAILED else 0)
    return result


def _failed(label: str, rule: str, exc: Exception, started: float) -> CheckResult:
    """What an exception inside a check means: skipped, rate-limited, unreachable, or could not run."""
    seconds = time.monotonic() - started
    if isinstance(exc, Skip):
        return CheckResult(SUITE, label, Outcome.SKIPPED, reason=str(exc), seconds=seconds)
    if isinstance(exc, Throttled):
        return judged(SUITE, label, [Failure(rule, str(exc), status=RATE_LIMITED)], seconds=seconds)
    if isinstance(exc, requests.RequestException):
        return judged(SUITE, label, [Failure(rule, f"no answer: {exc}", status=NO_ANSWER)], seconds=seconds)
    where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return CheckResult(SUITE, label, Outcome.ERROR, [Failure(SETUP, f"the check stopped on {where}")], seconds=seconds)


def _skipped(reason: str, started: float) -> CheckResult:
    """The whole suite, skipped with the reason."""
    return CheckResult(SUITE, f"{SUITE}/suite", Outcome.SKIPPED, reason=reason, seconds=time.monotonic() - started)
