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

With ``--workers N`` the rounds run in N worker processes (``contracts.workers``), each seeded as it would be
in one; a spent ``--budget`` stops the round in flight and starts no other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from schemathesis.engine import StopReason
from schemathesis.schemas import BaseSchema

from contracts import engine, selection, workers
from contracts import partial as partial_
from contracts.budget import SPENT
from contracts.meter import Meter
from contracts.results import CheckResult, Outcome
from contracts.suites import Entry
from contracts.target import Target

SUITE = "stateful"
NAME = "state machine"
ROUNDS = 4
SCENARIOS_PER_EXAMPLE = 10
MAX_STEPS = 20
MAX_FAILURES = 5  # distinct failures a round may find before it stops (a check reports 5 per rule at most)
EXAMPLES = (  # what --max-examples N bounds here
    f"{ROUNDS} rounds of up to N*{SCENARIOS_PER_EXAMPLE} scenarios of up to {MAX_STEPS} steps, never shrunk; a round "
    f"stops after {MAX_FAILURES} distinct failures (Schemathesis reruns the state machine after each)"
)


def _phases(*, infer: bool) -> dict[str, dict[str, Any]]:
    settings: dict[str, Any] = {"max-steps": MAX_STEPS, "generation": {"no-shrink": True}}
    if not infer:
        settings["inference"] = {"algorithms": []}
    return {"stateful": settings}


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
    rounds: list[Round] = []
    try:
        if workers.share(target) is not None:
            jobs = [partial(_round, target, number, scenarios) for number in range(ROUNDS)]
            target.meter.now(f"{ROUNDS} rounds in {min(target.workers, ROUNDS)} worker processes")
            for outcome in workers.run(jobs, target.workers, target.meter):
                if outcome.error:
                    failure = engine.error(SUITE, target, "a worker process could not run", outcome.error)
                    rounds.append(Round([CheckResult(SUITE, NAME, Outcome.ERROR, [failure])], ran=True))
                elif outcome.value is not None:
                    rounds.append(outcome.value)
                if outcome.interrupted:
                    rounds.append(Round([], interrupted=True))
        else:
            for number in range(ROUNDS):
                done = _round(target, number, scenarios, target.meter)
                rounds.append(done)
                if done.interrupted or done.cut or not done.ran:
                    break
    except engine.SpecError as exc:
        yield engine.unloadable(SUITE, target, exc)
        return
    except KeyboardInterrupt:
        rounds.append(Round([], interrupted=True))
    results = [result for done in rounds for result in done.results]
    finished = sum(done.ran and not (done.interrupted or done.cut) for done in rounds)
    notes = [
        f"round {done.number + 1} stopped after {MAX_FAILURES} distinct failures" for done in rounds if done.limited
    ]
    merged = engine.merge(SUITE, NAME, results) if results else engine.skipped(SUITE, NAME, partial_.NOT_TESTED)
    merged = replace(merged, reason="; ".join(part for part in (merged.reason, *notes) if part))
    answered = target.meter.counts().answered
    if any(done.interrupted for done in rounds):
        yield partial_.unfinished(merged, f"it finished round {finished + 1} of {ROUNDS}", answered)
        raise KeyboardInterrupt
    if finished < ROUNDS:  # the budget was spent first
        merged = partial_.unfinished(merged, f"it finished round {finished + 1} of {ROUNDS}", answered, SPENT)
    yield merged


@dataclass(frozen=True)
class Round:
    """One run of the state machine: its check, how it ended, and whether it ran at all (a spent budget)."""

    results: list[CheckResult]
    number: int = 0
    ran: bool = False
    interrupted: bool = False
    cut: bool = False  # the budget was spent while it ran
    limited: bool = False  # it stopped after MAX_FAILURES distinct failures


def _round(target: Target, number: int, scenarios: int, meter: Meter) -> Round:
    """Round ``number`` (seeded from ``target.seed`` and the round), counted on ``meter``; not run once spent."""
    if target.budget is not None and target.budget.spent:
        return Round([], number)
    seeded = replace(target, seed=target.seed * ROUNDS + number, meter=meter)
    schema = _load(seeded, scenarios, infer=False)
    if schema.statistic.transitions.total == 0:
        # No links in the spec: let Schemathesis infer them from the operations' parameters and responses.
        schema = _load(seeded, scenarios, infer=True)
    machine = engine.Run(seeded, SUITE, schema, single=NAME)
    results = machine.execute()
    limited = machine.stop_reason == StopReason.FAILURE_LIMIT
    return Round(results, number, True, machine.interrupted, machine.cut, limited)


ENTRY = Entry(SUITE, run, default=True, examples=EXAMPLES)


def _load(target: Target, scenarios: int, *, infer: bool) -> BaseSchema:
    config = engine.build_config(target, phases=_phases(infer=infer), max_examples=scenarios, max_failures=MAX_FAILURES)
    return engine.load(target, config)
