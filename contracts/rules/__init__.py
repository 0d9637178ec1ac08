"""The "rules" suite: the rules a spec declares, checked over HTTP, and the invoicing domain's reference model.

Derived from the spec for every resource it declares (``catalog``): lifecycles (``x-sandbox-transition``),
references (``x-sandbox-ref``) and deletes they block, sequences and unique fields, money, every list
filter, pagination, sort, search and deletion (``listing``). A spec declaring ``x-sandbox-domain: invoicing``
also gets the domain's checks (``DOMAIN_CHECKS``), which find its resources and verbs in the spec (``domain``).

The domain's heart is a Hypothesis ``RuleBasedStateMachine`` that drives the target with the "full" key
(customers, invoices with random lines and discounts, actions legal and illegal, payments, deletes,
estimates and conversions, duplicate numbers) and compares every answer, and after every step
every invoice it created, with ``contracts.model``. When the target breaks a rule, Hypothesis
shrinks the run to a minimal sequence of calls (unless ``--no-shrink``: then the run as found), which the
failure reports with the failing request as curl.

Beside it, separate checks that each create their own data: the domain's filters and reports, the
spec's defaults (page size, sort order, field defaults) and the date-driven
statuses the spec declares (OVERDUE, EXPIRED). Only records the suite created are compared, so the
target may hold any other data; names carry a random token (from the seed, checked unused) so nothing
collides.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator

import requests

from contracts.checking import Broken, Skip
from contracts.meter import Throttled
from contracts.results import NO_ANSWER, RATE_LIMITED, CheckResult, Failure, Outcome, judged
from contracts.rules.context import Context
from contracts.rules.dates import check_dates
from contracts.rules.defaults import check_default_page_size, check_default_sort, check_field_defaults
from contracts.rules.explore import machine_failures
from contracts.rules.filters import check_list_filters
from contracts.rules.lifecycle import check_lifecycles
from contracts.rules.listing import check_deleted, check_pagination, check_search, check_sort
from contracts.rules.lists import check_filters
from contracts.rules.machine import RulesMachine
from contracts.rules.money import check_money
from contracts.rules.numbering import check_sequences, check_unique
from contracts.rules.references import check_delete_blocked, check_references
from contracts.rules.reports import check_reports
from contracts.suites import Entry
from contracts.target import Target

__all__ = ["CHECKS", "SUITE", "Check", "Context", "RulesMachine", "machine_failures", "run"]

SUITE = "rules"

Check = Callable[[Context], list[Failure]]

CHECKS: tuple[tuple[str, str, Check], ...] = (
    ("state machine", "rules.machine", machine_failures),
    ("pagination", "rules.pagination", check_pagination),
    ("filters", "rules.filters", check_filters),
    ("sort", "rules.sort", check_sort),
    ("search", "rules.search", check_search),
    ("reports", "rules.reports", check_reports),
    ("deleted", "rules.deleted", check_deleted),
    ("default page size", "rules.default_page_size", check_default_page_size),
    ("default sort", "rules.default_sort", check_default_sort),
    ("field defaults", "rules.field_defaults", check_field_defaults),
    ("dates", "rules.dates", check_dates),
    ("lifecycles", "rules.lifecycle", check_lifecycles),
    ("references", "rules.references", check_references),
    ("referenced deletes", "rules.references.delete", check_delete_blocked),
    ("sequences", "rules.sequences", check_sequences),
    ("unique fields", "rules.unique", check_unique),
    ("money", "rules.money", check_money),
    ("filters of every list", "rules.filters", check_list_filters),
)

# The invoicing domain's reference model (API.md's arithmetic and its four resources): run only on a spec
# that declares ``x-sandbox-domain: invoicing``; every other check is derived from the spec alone.
DOMAIN = "invoicing"
DOMAIN_CHECKS = frozenset({"state machine", "filters", "reports"})


def run(target: Target) -> Iterator[CheckResult]:
    """The rules suite: the domain's state machine and list checks, the spec's defaults and dates, the derived rules."""
    if target.keys.get("full") is None:
        for name, _, _ in CHECKS:
            yield CheckResult(SUITE, name, Outcome.SKIPPED, reason="no full-access key configured")
        return
    ctx = Context.open(target)
    domain = ctx.spec.get("x-sandbox-domain")
    try:
        for name, rule, check in CHECKS:
            if name in DOMAIN_CHECKS and domain != DOMAIN:
                declared = f"x-sandbox-domain: {domain}" if domain else "no x-sandbox-domain"
                reason = f"checks the {DOMAIN} domain's reference model, and the spec declares {declared}"
                yield CheckResult(SUITE, name, Outcome.SKIPPED, reason=reason)
                continue
            yield _run_check(ctx, name, rule, check)
    finally:
        ctx.client.session.close()


ENTRY = Entry(SUITE, run, default=True, examples="N runs of its state machine")


def _run_check(ctx: Context, name: str, rule: str, check: Check) -> CheckResult:
    """One check, judged: a finding about a 429 or about no answer at all is not a breach (see ``judged``)."""
    started = time.monotonic()
    ctx.target.meter.now(name)
    ctx.notes.clear()
    try:
        failures = check(ctx)
    except Skip as skip:
        return CheckResult(SUITE, name, Outcome.SKIPPED, reason=str(skip), seconds=time.monotonic() - started)
    except Broken as broken:
        failures = [broken.failure]
    except Throttled as exc:
        failures = [Failure(rule, str(exc), status=RATE_LIMITED)]
    except requests.RequestException as exc:
        failures = [Failure(rule, f"a request failed: {exc}", status=NO_ANSWER)]
    except Exception as exc:  # an answer the check could not read fails the check, never the run
        where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        failures = [Failure(rule, f"the check stopped on {where} (an answer it could not read)")]
    result = judged(SUITE, name, failures, reason=_notes(ctx.notes), seconds=time.monotonic() - started)
    ctx.target.meter.found(len(result.failures) if result.outcome is Outcome.FAILED else 0)
    return result


def _notes(notes: list[str], shown: int = 6) -> str:
    """What a check could not exercise, on one line (the first few, and how many more)."""
    notes = list(dict.fromkeys(notes))
    more = f"; and {len(notes) - shown} more" if len(notes) > shown else ""
    return ("not exercised: " + "; ".join(notes[:shown]) + more) if notes else ""
