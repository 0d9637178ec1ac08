"""Run the chosen suites against a target, streaming each finished check to a progress callback."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable

from contracts import suites as registry
from contracts.results import CheckResult, Failure, Outcome, Report
from contracts.target import ROLES, Target

Progress = Callable[[CheckResult], None]


def run(target: Target, progress: Progress | None = None) -> Report:
    """Run ``target.suites`` in order (after the setup hook, if any) and return the report."""
    report = Report()

    def record(check: CheckResult) -> None:
        report.checks.append(check)
        if progress is not None:
            progress(check)

    if target.setup_hook and not _setup(target, record):
        return report
    for name in target.suites:
        for check in registry.get(name)(target):
            record(check)
    return report


def _setup(target: Target, record: Callable[[CheckResult], None]) -> bool:
    """Run the setup command with the target in its environment; a failure stops the run."""
    env = {**os.environ, "CONTRACTS_BASE_URL": target.api, "CONTRACTS_SPEC": str(target.spec_path)}
    for role in ROLES:
        key = target.keys.get(role)
        if key:
            env[f"CONTRACTS_KEY_{role.upper()}"] = key
    started = time.monotonic()
    command = target.setup_hook or ""
    result = subprocess.run(shlex.split(command), env=env, capture_output=True, text=True, check=False)  # noqa: S603
    ok = result.returncode == 0
    record(
        CheckResult(
            suite="setup",
            name=command,
            outcome=Outcome.PASSED if ok else Outcome.FAILED,
            failures=[]
            if ok
            else [Failure("setup.hook", f"exit code {result.returncode}", command, result.stderr[-800:])],
            seconds=time.monotonic() - started,
        )
    )
    return ok
