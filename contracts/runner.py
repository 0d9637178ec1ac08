"""Run the chosen suites against a target: probe it first, count each suite's traffic, stream progress.

Each suite gets ``replace(target, meter=Meter(...))``: its own counter, which every request it sends
(through ``contracts.http.Client`` or Schemathesis) reports to, so the report can say what each suite
really exercised. Every check is scrubbed of the target's keys before anyone (console, JSON, JUnit) sees it.

Interrupted (KeyboardInterrupt out of a suite, or an ``Interruption`` noted while it ran), the run stops: the
suite keeps the checks it finished and is marked interrupted, no other suite starts, and the report says where
the run was cut short (``Report.interrupted``), so the verdict cannot pass it (``contracts.verdict``).

With a ``--budget`` (``contracts.budget``), every suite's meter reports to the run's budget; once it is spent the
suite in flight stops (the engine at once, another suite after the check it is on) and is marked cut, no other
suite starts (``Report.over_budget``), and the verdict's reason says what the budget left unchecked.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from contracts import builtin, probe
from contracts.budget import Budget
from contracts.credentials import AuthState
from contracts.http import redact
from contracts.interrupt import Interruption
from contracts.meter import Meter
from contracts.replay import capture
from contracts.results import CheckResult, Failure, Outcome, Report, SuiteRun
from contracts.runinfo import RunInfo
from contracts.suites import Entry, Registry
from contracts.target import ROLES, Target
from contracts.verdict import set_aside_refusals


class Listener(Protocol):
    """Told about a run as it goes (``contracts.progress.Console`` prints it)."""

    def suite_started(self, name: str) -> None:
        """A suite begins."""

    def activity(self, meter: Meter) -> None:
        """A request was counted, or the check in flight changed."""

    def check_finished(self, check: CheckResult, meter: Meter) -> None:
        """A check ended."""

    def suite_finished(self, run: SuiteRun) -> None:
        """A suite ended."""


def run(
    target: Target,
    listener: Listener | None = None,
    interruption: Interruption | None = None,
    registry: Registry | None = None,
) -> Report:
    """Probe the target, run the setup hook (if any), then ``target.suites`` in order; return the report.

    The suites come from ``registry`` (default: the built-in ones); a target that names none runs its defaults.
    ``interruption``: where a SIGINT handler notes that the user asked the run to stop (``contracts.interrupt``);
    a KeyboardInterrupt stops it all the same.
    """
    registry = registry or builtin.suites()
    if not target.suites:
        target = replace(target, suites=registry.choose(None))
    # Tokens and the credentials plan belong to this run, and so does its Ctrl-C.
    target = replace(target, auth_state=AuthState(), interruption=interruption)
    if target.budget is not None:
        target.budget.start()
    started = time.monotonic()
    info = RunInfo.of(target, dt.datetime.now(dt.UTC))
    report = Report(info=info)
    stage = "probe"
    try:
        info.probe = probe.reach(target)
        stage = "setup" if target.setup_hook else stage
        if not info.probe.ok:
            report.unreachable = info.probe.problem
        elif not target.setup_hook or _setup(target, report):
            for name in target.suites:
                stage = name
                if target.budget is not None and target.budget.spent:
                    report.over_budget.append(name)
                    continue
                if not _run_suite(registry.get(name), target, report, listener, interruption):
                    break
    except KeyboardInterrupt:  # in the probe or the setup hook, or a listener between suites
        report.interrupted = report.interrupted or stage
    if interruption is not None and interruption.requested and not report.interrupted:
        report.interrupted = stage
    info.seconds = round(time.monotonic() - started, 3)
    if target.budget is not None:
        target.budget.close()
        report.budget = target.budget.summary()
    return report


def _run_suite(
    suite: Entry, target: Target, report: Report, listener: Listener | None, interruption: Interruption | None
) -> bool:
    """Run one suite into ``report``; False when it was interrupted (the run stops)."""
    name = suite.name
    meter = Meter(_watched(listener, target.budget))
    if listener is not None:
        listener.suite_started(name)
    started = time.monotonic()
    interrupted = cut = False
    checks = suite.run(replace(target, meter=meter))
    try:
        while not cut and not interrupted:
            spent, sent = target.budget is not None and target.budget.spent, meter.made
            # Ctrl-C whose KeyboardInterrupt Python swallowed (it landed in a finalizer): stop as on a spent budget.
            asked = interruption is not None and interruption.requested
            check = next(checks, None)
            if check is None:
                break
            check = capture.attach(check, meter.tape.take(), target)  # with its failures' artefacts
            clean = set_aside_refusals(scrubbed(check, target), meter.counts())
            report.checks.append(clean)
            if listener is not None:
                listener.check_finished(clean, meter)
            # Spent: keep the checks the suite had judged already (they come without sending anything), and stop
            # after the first one that still had to send (a generator cannot say before it is asked).
            cut = spent and meter.made > sent
            interrupted = asked and meter.made > sent
        close = getattr(checks, "close", None)  # a generator: let it clean up (the Schemathesis engine stops)
        if close is not None:
            close()
        # Spent while it ran (it did not start spent): the engine suites stopped at once and marked what is partial.
        cut = cut or (target.budget is not None and target.budget.spent)
    except KeyboardInterrupt:
        interrupted = True
    interrupted = interrupted or (interruption is not None and interruption.requested)
    done = SuiteRun(name, round(time.monotonic() - started, 3), meter.counts(), interrupted=interrupted, cut=cut)
    report.runs.append(done)
    if interrupted:
        report.interrupted = name
    if listener is not None:
        listener.suite_finished(done)
    return not interrupted


def _watched(listener: Listener | None, budget: Budget | None) -> Callable[[Meter], None] | None:
    """The suite meter's listener: progress output, and the run's budget counting its requests."""
    if budget is None:
        return listener.activity if listener is not None else None
    if listener is None:
        return budget.watch

    def both(meter: Meter) -> None:
        budget.watch(meter)
        listener.activity(meter)

    return both


def scrubbed(check: CheckResult, target: Target) -> CheckResult:
    """``check`` with every configured key replaced by the variable that should hold it."""

    def clean(text: str) -> str:
        return redact(text, target)

    failures = [
        replace(f, message=clean(f.message), reproduction=clean(f.reproduction), response=clean(f.response))
        for f in check.failures
    ]
    return replace(check, name=clean(check.name), reason=clean(check.reason), failures=failures)


def _setup(target: Target, report: Report) -> bool:
    """Run the setup command with the target in its environment; a failure stops the run (could not test)."""
    env = {**os.environ, "CONTRACTS_BASE_URL": target.api, "CONTRACTS_SPEC": str(target.spec_path)}
    for role in ROLES:
        key = target.keys.get(role)
        if key:
            env[f"CONTRACTS_KEY_{role.upper()}"] = key
    if target.admin_token:  # a hook may reset or pin a sandbox through /__sandbox
        env["CONTRACTS_ADMIN_TOKEN"] = target.admin_token
    started = time.monotonic()
    command = target.setup_hook or ""
    try:
        result = subprocess.run(shlex.split(command), env=env, capture_output=True, text=True, check=False)  # noqa: S603
        code, stderr = result.returncode, result.stderr
    except OSError as exc:
        code, stderr = -1, str(exc)
    ok = code == 0
    failures = [] if ok else [Failure("setup.hook", f"exit code {code}", command, stderr[-800:])]
    check = CheckResult("setup", command, Outcome.PASSED if ok else Outcome.ERROR, failures)
    report.checks.append(scrubbed(replace(check, seconds=round(time.monotonic() - started, 3)), target))
    return ok
