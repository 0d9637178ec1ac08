"""The ``stateful`` suite: Schemathesis's state machine over the spec's links.

Scenarios chain operations along the spec's links (create -> get / update / delete / actions) and apply every
check to each step, among them ``use_after_free`` (a deleted resource still answers) and
``ensure_resource_availability`` (a resource just created is not there). Only the spec's own links are walked,
so the budget goes to the flows the spec promises; a spec without links falls back to Schemathesis's link
inference. Hypothesis ends a state-machine run early once its scenarios stop telling it anything new, so the
suite runs ``ROUNDS`` of them, each seeded from ``target.seed`` and the round, each with up to
``target.max_examples * SCENARIOS_PER_EXAMPLE`` scenarios of up to ``MAX_STEPS`` steps.
One CheckResult, ``state machine``; a failure's rule is ``stateful.<check name>``.

Bounded: Schemathesis reruns the whole state machine after each new failure (the run ends at a failing step),
and shrinks each failure by replaying scenarios, neither of which ``max_examples`` bounds: against a target
that fails often that is tens of thousands of requests. So failures are not shrunk (a failure is reported as
its steps happened) and a round stops after ``MAX_FAILURES`` distinct ones, so it runs at most
``MAX_FAILURES + 1`` machines of the size above. Interrupted, the suite stops after the round in flight, hands
over what it found (a pass only if every round finished), then raises KeyboardInterrupt again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from schemathesis.engine import StopReason
from schemathesis.schemas import BaseSchema

from contracts import engine, partial, selection
from contracts.budget import SPENT
from contracts.results import CheckResult
from contracts.suites import suite
from contracts.target import Target

SUITE = "stateful"
NAME = "state machine"
ROUNDS = 4
SCENARIOS_PER_EXAMPLE = 10
MAX_STEPS = 20
MAX_FAILURES = 5  # distinct failures a round may find before it stops (a check reports 5 per rule at most)


def _phases(*, infer: bool) -> dict[str, dict[str, Any]]:
    settings: dict[str, Any] = {"max-steps": MAX_STEPS, "generation": {"no-shrink": True}}
    if not infer:
        settings["inference"] = {"algorithms": []}
    return {"stateful": settings}


@suite(SUITE, default=True)
def run(target: Target) -> Iterator[CheckResult]:
    """Walk the spec's links against the target."""
    if not target.keys.full:
        yield engine.skipped(SUITE, NAME, "no key for the 'full' role (--key full=...)")
        return
    unreachable = engine.reachable(SUITE, target)
    if unreachable is not None:
        yield unreachable
        return
    scenarios = max(1, target.max_examples * SCENARIOS_PER_EXAMPLE)
    if target.operations is not None:  # the chosen operations, and those whose links lead to them
        target = replace(target, operations=selection.with_producers(target.spec_path, target.operations))
    infer = False
    results: list[CheckResult] = []
    notes: list[str] = []
    finished = 0
    try:
        for round_ in range(ROUNDS):
            if target.budget is not None and target.budget.spent:
                break
            seeded = replace(target, seed=target.seed * ROUNDS + round_)
            schema = _load(seeded, scenarios, infer=infer)
            if schema.statistic.transitions.total == 0 and not infer:
                # No links in the spec: let Schemathesis infer them from the operations' parameters and responses.
                infer = True
                schema = _load(seeded, scenarios, infer=True)
            machine = engine.Run(seeded, SUITE, schema, single=NAME)
            results.extend(machine.execute())
            if machine.interrupted:
                raise KeyboardInterrupt
            if machine.cut:
                break
            if machine.stop_reason == StopReason.FAILURE_LIMIT:
                notes.append(f"round {round_ + 1} stopped after {MAX_FAILURES} distinct failures")
            finished += 1
    except engine.SpecError as exc:
        yield engine.unloadable(SUITE, target, exc)
        return
    except KeyboardInterrupt:
        merged = engine.merge(SUITE, NAME, results) if results else engine.skipped(SUITE, NAME, partial.NOT_TESTED)
        before = f"it finished round {finished + 1} of {ROUNDS}"
        yield partial.unfinished(merged, before, target.meter.counts().answered)
        raise
    merged = engine.merge(SUITE, NAME, results) if results else engine.skipped(SUITE, NAME, partial.NOT_TESTED)
    merged = replace(merged, reason="; ".join(part for part in (merged.reason, *notes) if part))
    if finished < ROUNDS:  # the budget was spent first
        before = f"it finished round {finished + 1} of {ROUNDS}"
        merged = partial.unfinished(merged, before, target.meter.counts().answered, SPENT)
    yield merged


def _load(target: Target, scenarios: int, *, infer: bool) -> BaseSchema:
    config = engine.build_config(target, phases=_phases(infer=infer), max_examples=scenarios, max_failures=MAX_FAILURES)
    return engine.load(target, config)
