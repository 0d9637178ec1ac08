"""The rate-limit suite: the budget the spec's rate-limit headers describe is counted, enforced and given back.

Read from the spec: the rate-limit headers its answers document (``X-RateLimit-Limit``, ``-Remaining``,
``-Reset``; the IETF ``RateLimit-Limit``/``-Remaining``/``-Reset``, ``RateLimit`` and ``RateLimit-Policy``), the
429 answer (``Retry-After``, error schema), and a cheap GET to spend requests on (no path or required
parameter; one that needs a key and no scope first: ``GET /me`` here). The budget spent is the ``readonly``
key's when it can call that GET (the key the other suites use least), else the ``full`` key's.

Checks and rules:

- ``ratelimit/remaining`` (``ratelimit.remaining``): in sequential requests the remaining count falls by
  exactly one per request (five in a row). Two answers between which a window may have ended (the later one
  has the whole budget, and the earlier one's reset, less a second of rounding, had passed) are not judged.
- ``ratelimit/limited``: spending what is left gets a 429 once nothing is left and not before
  (``ratelimit.limited``), with the documented ``Retry-After`` in seconds or as an HTTP date
  (``ratelimit.retry_after``) and a body matching the documented 429 schema (``ratelimit.error_shape``).
  Only when the limit is within ``--ratelimit-budget`` requests (300) and the window resets within
  ``--ratelimit-wait`` seconds (65), so the key is never left spent; else skipped with the limit and window.
- ``ratelimit/reset`` (``ratelimit.reset``): after the reset the 429 announced (the longer of ``Retry-After``
  and the reset header, plus a second for whole-second rounding; one more second of grace) the budget is back.

Not in the default suites: it spends a key's budget and waits for it. Name it (``--suite ratelimit``), last.
Skipped with the reason: a spec that documents no rate-limit header, no GET to spend requests on, no key.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator

import requests

from contracts import checking
from contracts.checking import Skip
from contracts.meter import Throttled
from contracts.ratelimit.checks import (
    ERROR_SHAPE,
    LIMITED_RULE,
    REMAINING,
    RESET,
    RETRY_AFTER,
    check_limited,
    check_remaining,
    check_reset,
)
from contracts.ratelimit.session import Session
from contracts.ratelimit.spec import documented, probes
from contracts.results import NO_ANSWER, RATE_LIMITED, CheckResult, Failure, Outcome, judged
from contracts.suites import Entry, Option, option
from contracts.target import Target

__all__ = [
    "BUDGET",
    "ERROR_SHAPE",
    "LIMITED_RULE",
    "REMAINING",
    "RESET",
    "RETRY_AFTER",
    "RULES",
    "SUITE",
    "WAIT",
    "run",
]

SUITE = "ratelimit"
SETUP = "ratelimit.setup"  # the rule of a check that could not run
RULES = (REMAINING, LIMITED_RULE, RETRY_AFTER, ERROR_SHAPE, RESET)
BUDGET = Option("ratelimit_budget", 300, "most requests the ratelimit suite sends to reach a rate limit", integer=True)
WAIT = Option("ratelimit_wait", 65.0, "most seconds the ratelimit suite waits for a window to reset", "SECONDS")

Check = Callable[[Session], tuple[list[Failure], str]]
CHECKS: tuple[tuple[str, str, Check], ...] = (
    ("remaining", REMAINING, check_remaining),
    ("limited", LIMITED_RULE, check_limited),
    ("reset", RESET, check_reset),
)


def run(target: Target) -> Iterator[CheckResult]:
    """Run the rate-limit checks against ``target`` (skipped with the reason when the spec documents no limit)."""
    started = time.monotonic()
    shared = checking.Context(target)
    try:
        names, found = documented(shared.spec), probes(shared.spec)
    except Exception as exc:  # a spec that does not load or resolve stops this suite only
        failure = Failure(SETUP, f"the spec could not be read: {type(exc).__name__}: {exc}")
        yield CheckResult(SUITE, f"{SUITE}/spec", Outcome.ERROR, [failure])
        return
    if not names:
        reason = (
            "the spec documents none of X-RateLimit-Limit/-Remaining/-Reset, RateLimit-Limit/-Remaining/-Reset, "
            "RateLimit or RateLimit-Policy on any answer: no limit is promised"
        )
        yield _skipped(reason, started)
        return
    if not found:
        yield _skipped("no GET without path or required parameters documents the rate-limit headers", started)
        return
    session = Session(shared, found[0], int(option(target, BUDGET)), option(target, WAIT))
    for name, rule, check in CHECKS:
        yield _run_check(session, name, rule, check)


ENTRY = Entry(SUITE, run, default=False, options=(BUDGET, WAIT))


def _run_check(session: Session, name: str, rule: str, check: Check) -> CheckResult:
    """One check: a Skip says why it did not apply; a finding about a 429 is kept (a 429 is its subject here)."""
    label, started = f"{SUITE}/{name}", time.monotonic()
    session.target.meter.now(label)
    try:
        failures, reason = check(session)
    except Skip as skip:
        return CheckResult(SUITE, label, Outcome.SKIPPED, reason=str(skip), seconds=time.monotonic() - started)
    except Throttled as exc:
        return judged(SUITE, label, [Failure(rule, str(exc), status=RATE_LIMITED)], seconds=time.monotonic() - started)
    except requests.RequestException as exc:
        failure = Failure(rule, f"the target could not be reached: {exc}", status=NO_ANSWER)
        return judged(SUITE, label, [failure], seconds=time.monotonic() - started)
    except Exception as exc:  # a check that could not run is reported, never the end of the run
        where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        failure = Failure(SETUP, f"the check stopped on {where}")
        return CheckResult(SUITE, label, Outcome.ERROR, [failure], seconds=time.monotonic() - started)
    result = judged(SUITE, label, failures, reason=reason, seconds=time.monotonic() - started)
    session.target.meter.found(len(result.failures) if result.outcome is Outcome.FAILED else 0)
    return result


def _skipped(reason: str, started: float) -> CheckResult:
    """The whole suite, skipped with the reason."""
    return CheckResult(SUITE, f"{SUITE}/suite", Outcome.SKIPPED, reason=reason, seconds=time.monotonic() - started)
