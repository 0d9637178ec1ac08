"""Run the state machine under Hypothesis; turn what it found into Failures (steps shrunk unless --no-shrink)."""

from __future__ import annotations

import traceback
from dataclasses import replace

import requests
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from contracts import generation
from contracts.meter import Throttled
from contracts.results import NO_ANSWER, RATE_LIMITED, Failure
from contracts.rules.common import Violation
from contracts.rules.context import Context
from contracts.rules.machine import RulesMachine

STEPS = 50  # steps per generated run; max_examples runs (Target.max_examples, 25 by default)


def machine_failures(ctx: Context) -> list[Failure]:
    """Run the state machine; the failures it found, shrunk unless the target says not (with their call sequence)."""
    for name in ("customers", "invoices", "estimates", "payments"):
        ctx.listing("rules.integrity", ctx.paths.collection(name), {"limit": 1})  # a missing one skips the machine
    ctx.machine_tag = ctx.token("machine")
    machine = type("RulesMachine", (RulesMachine,), {"context": ctx})
    seeded = seed(ctx.target.seed)(machine)
    config = settings(
        max_examples=max(1, ctx.target.max_examples),
        stateful_step_count=STEPS,
        database=None,
        deadline=None,
        derandomize=False,
        print_blob=False,
        phases=(Phase.generate, Phase.shrink) if ctx.target.shrink else (Phase.generate,),
        report_multiple_bugs=True,
        suppress_health_check=list(HealthCheck),
    )
    try:
        with generation.seed_only():
            run_state_machine_as_test(seeded, settings=config)
    except Exception as exc:  # every failure of the run is reported, none escapes the suite
        failures = [_machine_failure(error, ctx) for error in _flatten(exc)]
        if isinstance(exc, Flaky):
            note = "(flaky: the target did not fail the same way every time this sequence ran)\n"
            failures = [replace(f, message=note + f.message) for f in failures]
        return failures
    return []


def _flatten(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [inner for group in exc.exceptions for inner in _flatten(group)]
    return [exc]


def _machine_failure(exc: BaseException, ctx: Context) -> Failure:
    """A Failure with the minimal steps Hypothesis printed and the HTTP calls of that final run."""
    steps = [
        note.strip()
        for note in getattr(exc, "__notes__", [])
        if note.strip().startswith("state") or " = state." in note
    ]
    if isinstance(exc, Violation):
        failure, calls = exc.failure, exc.calls
    else:
        where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if isinstance(exc, Throttled):  # rate-limited for good: not a verdict on the target
            failure = Failure("rules.transport", f"the state machine stopped: {exc}", status=RATE_LIMITED)
        elif isinstance(exc, requests.RequestException):  # no answer: not a verdict on the target
            failure = Failure("rules.transport", f"the state machine stopped on {where}", status=NO_ANSWER)
        else:
            failure = Failure("rules.machine", f"the state machine stopped on {where}")
        calls = list(ctx.last_calls)
    # Hypothesis also prints the invariant checks and the teardown; the steps are the rule calls.
    automatic = {"state.teardown()", "state.invoices_match_model()"}
    shown = [step for step in steps if step not in automatic]
    text = [failure.message]
    if shown:
        how = "shrunk by Hypothesis" if ctx.target.shrink else "as found: not shrunk (--no-shrink)"
        title = "Minimal reproduction" if ctx.target.shrink else "Reproduction"
        text.append(f"{title} ({len(shown) - 1} steps, {how}, seed {ctx.target.seed}):\n    " + "\n    ".join(shown))
    if calls:
        text.append(f"HTTP calls of that run ({len(calls)}):\n    " + "\n    ".join(calls))
    return replace(failure, message="\n".join(text))
