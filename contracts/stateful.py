"""The ``stateful`` suite: Schemathesis's state machine over the spec's links.

Scenarios chain operations along the spec's links (create -> get / update / delete / actions) and apply every
check to each step, among them ``use_after_free`` (a deleted resource still answers) and
``ensure_resource_availability`` (a resource just created is not there). Only the spec's own links are walked,
so the budget goes to the flows the spec promises; a spec without links falls back to Schemathesis's link
inference. Hypothesis ends a state-machine run early once its scenarios stop telling it anything new, so the
suite runs ``ROUNDS`` of them, each seeded from ``target.seed`` and the round, each with up to
``target.max_examples * SCENARIOS_PER_EXAMPLE`` scenarios of up to ``MAX_STEPS`` steps.
One CheckResult, ``state machine``; a failure's rule is ``stateful.<check name>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from schemathesis.schemas import BaseSchema

from contracts import engine
from contracts.results import CheckResult
from contracts.suites import suite
from contracts.target import Target

SUITE = "stateful"
NAME = "state machine"
ROUNDS = 4
SCENARIOS_PER_EXAMPLE = 10
MAX_STEPS = 20


def _phases(*, infer: bool) -> dict[str, dict[str, Any]]:
    settings: dict[str, Any] = {"max-steps": MAX_STEPS}
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
    infer = False
    results: list[CheckResult] = []
    try:
        for round_ in range(ROUNDS):
            seeded = replace(target, seed=target.seed * ROUNDS + round_)
            schema = _load(seeded, scenarios, infer=infer)
            if schema.statistic.transitions.total == 0 and not infer:
                # No links in the spec: let Schemathesis infer them from the operations' parameters and responses.
                infer = True
                schema = _load(seeded, scenarios, infer=True)
            results.extend(engine.Run(seeded, SUITE, schema, single=NAME).execute())
    except engine.SpecError as exc:
        yield engine.unloadable(SUITE, target, exc)
        return
    yield engine.merge(SUITE, NAME, results)


def _load(target: Target, scenarios: int, *, infer: bool) -> BaseSchema:
    return engine.load(target, engine.build_config(target, phases=_phases(infer=infer), max_examples=scenarios))
