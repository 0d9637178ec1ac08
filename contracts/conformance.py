"""The ``conformance`` suite: Schemathesis over every operation, with every check, examples + coverage + fuzzing.

It runs Schemathesis's own engine in-process (``contracts.engine``), the same event stream ``st run`` reports,
with the examples, coverage and fuzzing phases and every built-in check (status codes, content types, headers,
response schemas, negative data rejected, positive data accepted, auth not ignored, unsupported methods with
``Allow``, ...) plus the domain checks of ``contracts.checks``. ``target.max_examples`` bounds every phase
per operation: fuzzing draws that many examples, without shrinking; the examples phase sends the spec's own
examples; the coverage phase runs only on the operations whose cases number at most
``contracts.coverage.bound(max_examples)``, the others say so in their check. One CheckResult per operation,
named by its label (``POST /invoices``); a failure's rule is ``conformance.<check name>``. Interrupted, the
suite hands over what it checked, then raises KeyboardInterrupt again. With ``--workers N`` the operations are
dealt out to N worker processes (``contracts.workers``), each running every phase over its share.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial

from schemathesis.config import SchemathesisConfig

from contracts import coverage, engine, workers
from contracts.meter import Meter
from contracts.results import CheckResult, Outcome
from contracts.suites import Entry
from contracts.target import Target

SUITE = "conformance"
EXAMPLES = (  # what --max-examples N bounds here
    f"the spec's own examples, N fuzzed examples (never shrunk), and the coverage phase's boundary cases only on "
    f"an operation that has at most {coverage.CASES_PER_EXAMPLE}*N of them: Schemathesis cannot cap that phase, "
    f"which enumerates every case (over 100,000 for a deep schema), so an operation with more runs without it and "
    f"its check says so"
)


def run(target: Target) -> Iterator[CheckResult]:
    """Check every operation of the spec against the target."""
    if not target.keys.full:
        yield engine.skipped(SUITE, "all operations", "no key for the 'full' role (--key full=...)")
        return
    unreachable = engine.reachable(SUITE, target)
    if unreachable is not None:
        yield unreachable
        return
    share = workers.share(target)
    if share is not None:
        yield from _in_workers(target, share)
        return
    try:
        results, interrupted = _checked(target, target.meter)
    except engine.SpecError as exc:
        yield engine.unloadable(SUITE, target, exc)
        return
    yield from results
    if interrupted:
        raise KeyboardInterrupt


def _checked(target: Target, meter: Meter) -> tuple[list[CheckResult], bool]:
    """Every phase over ``target``'s operations, counted on ``meter``: the checks, and whether it was interrupted."""
    target = replace(target, meter=meter)
    limit = coverage.bound(target.max_examples)
    target.meter.now("counting coverage cases")
    oversized = coverage.oversized(engine.load(target, _config(target, [])), limit)
    schema = engine.load(target, _config(target, oversized))
    notes = dict.fromkeys(oversized, coverage.reason(limit))
    run = engine.Run(target, SUITE, schema, notes=notes)
    return run.execute(), run.interrupted


def _in_workers(target: Target, shares: list[frozenset[str]]) -> Iterator[CheckResult]:
    """The operations dealt out to worker processes (``--workers``), their checks in the spec's order."""
    jobs = [partial(_share_checked, replace(target, operations=share)) for share in shares]
    target.meter.now(f"{len(jobs)} worker processes")
    results: list[CheckResult] = []
    interrupted = False
    for outcome in workers.run(jobs, len(jobs), target.meter):
        if outcome.error:
            failure = engine.error(SUITE, target, "a worker process could not run", outcome.error)
            results.append(CheckResult(SUITE, "run", Outcome.ERROR, [failure]))
        if outcome.value is not None:
            results.extend(outcome.value[0])
            interrupted = interrupted or outcome.value[1]
        interrupted = interrupted or outcome.interrupted
    order = {label: index for index, label in enumerate(workers.labels(target))}
    yield from sorted(results, key=lambda result: order.get(result.name, len(order)))
    if interrupted:
        raise KeyboardInterrupt


def _share_checked(target: Target, meter: Meter) -> tuple[list[CheckResult], bool]:
    try:
        return _checked(target, meter)
    except engine.SpecError as exc:
        return [engine.unloadable(SUITE, target, exc)], False


ENTRY = Entry(SUITE, run, default=True, examples=EXAMPLES)


def _config(target: Target, without_coverage: list[str]) -> SchemathesisConfig:
    """Every phase, bounded by ``target.max_examples``; no coverage phase on the operations ``without_coverage``."""
    return engine.build_config(
        target,
        phases=engine.fuzzing_phases(),
        max_examples=target.max_examples,
        operations=coverage.switched_off(without_coverage),
    )
