"""Report a run: failures, what could not run, a summary table, and JUnit XML and JSON carrying the run's metadata.

A suite that did not exercise the target (unreachable, rate-limited, its credentials refused, nothing ran) is
an ``exercised`` testcase with an ``<error>`` in JUnit, and ``exercised: false`` with its ``problems`` in JSON.
An interrupted run (Ctrl-C) says so in both: the suite cut short has ``interrupted: true`` in JSON and a
``completed`` testcase (instead of ``exercised``) with an ``<error type="interrupted">`` in JUnit; a suite that
never started is in JSON's ``run.not_run`` and is a JUnit testsuite with one such error; the run's metadata
(``run.interrupted``) names where it stopped.

Both files say what was checked as well as what was found: target, spec (path and SHA-256), seed, suites,
key roles (never keys), whether an admin token was given (never the token), start time, durations, versions,
requests made and answered per suite, and the exit code with its reason. JUnit carries them as
``<properties>`` of ``<testsuites>`` and of each ``<testsuite>``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from contracts.meter import Counts
from contracts.replay import artefact as artefacts
from contracts.results import CheckResult, Failure, Outcome, Report
from contracts.verdict import Verdict, problems

_COLUMNS = ("suite", "checks", "passed", "failed", "skipped", "errors", "requests", "answered", "429", "no answer", "s")


def failures_text(report: Report, replays: Path | None = None) -> str:
    """Every failure: the rule it broke, why, a curl reproduction, the target's answer, its id and replay command.

    ``replays``: where the run's artefacts were saved (``save_artefacts``); None: none were.
    """
    return _blocks((check for check in report.checks if check.outcome is Outcome.FAILED), replays)


def errors_text(report: Report) -> str:
    """Every check that could not run, and why."""
    return _blocks(check for check in report.checks if check.outcome is Outcome.ERROR)


def _blocks(checks: Any, replays: Path | None = None) -> str:
    blocks: list[str] = []
    for check in checks:
        for failure in check.failures:
            lines = [f"[{check.suite}] {check.name}", f"  rule: {failure.rule}", f"  why:  {failure.message}"]
            if failure.reproduction:
                lines.append(f"  reproduce: {failure.reproduction}")
            if failure.response:
                lines.append("  response:  " + failure.response.replace("\n", "\n             "))
            if replays is not None and failure.replay is not None:
                lines.append(f"  id:        {failure.replay.id}")
                lines.append(f"  replay:    {replay_command(failure.replay, replays)}")
            elif replays is not None:
                lines.append("  replay:    none (no request of this failure was recorded: see the rule's message)")
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# ----------------------------------------------------------------------------------------------------------
# Replay artefacts


def save_artefacts(report: Report, report_paths: Sequence[Path | None]) -> Path | None:
    """Write every failure's artefact beside the run's first report file (``contracts-report/`` without one).

    Returns the directory, or None when no failure has an artefact.
    """
    found = [
        failure.replay
        for check in report.checks
        if check.outcome is Outcome.FAILED
        for failure in check.failures
        if failure.replay is not None
    ]
    if not found:
        return None
    directory = artefacts.directory_for(report_paths)
    artefacts.save(found, directory)
    return directory


def replay_command(artefact: artefacts.Artefact, directory: Path) -> str:
    """The command that replays ``artefact`` saved in ``directory``."""
    default = artefacts.DEFAULT_ROOT / artefacts.DIRECTORY
    where = "" if directory == default else f" --from {shlex.quote(str(directory))}"
    return artefact.command() + where


def _failure_json(failure: Failure, replays: Path | None) -> dict[str, Any]:
    body = {name: value for name, value in asdict(replace(failure, replay=None)).items() if name != "replay"}
    saved = failure.replay if replays is not None else None
    body["id"] = saved.id if saved is not None else None
    body["replay"] = replay_command(saved, replays) if saved is not None and replays is not None else None
    return body


def _check_json(check: CheckResult, replays: Path | None) -> dict[str, Any]:
    body = dict(asdict(replace(check, failures=[])))
    body["failures"] = [_failure_json(failure, replays) for failure in check.failures]
    return body


def _outcomes(checks: list[CheckResult]) -> dict[str, int]:
    return {outcome.value: sum(c.outcome is outcome for c in checks) for outcome in Outcome}


def summary_table(report: Report) -> str:
    """Per suite: checks by outcome, requests made, answered, 429s, unanswered and seconds; a total row."""
    rows: list[tuple[str, ...]] = [_COLUMNS]
    totals = [0] * (len(_COLUMNS) - 2)
    total_seconds = 0.0
    for name in report.suites():
        checks = report.of(name)
        run = report.run_of(name)
        counts = run.requests if run is not None else Counts()
        seconds = run.seconds if run is not None else sum(c.seconds for c in checks)
        outcomes = _outcomes(checks)
        values = [
            len(checks),
            *(outcomes[o.value] for o in (Outcome.PASSED, Outcome.FAILED, Outcome.SKIPPED, Outcome.ERROR)),
            counts.made,
            counts.answered,
            counts.rate_limited,
            counts.unanswered,
        ]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        total_seconds += seconds
        rows.append((name, *map(str, values), f"{seconds:.1f}"))
    rows.append(("total", *map(str, totals), f"{total_seconds:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    rule = "  ".join("-" * w for w in widths)
    lines.insert(1, rule)
    lines.insert(len(lines) - 1, rule)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# Metadata shared by both files


def run_metadata(report: Report, verdict: Verdict) -> dict[str, Any]:
    """The run's metadata as JSON-ready values (no key, roles only; no admin token, only whether there is one)."""
    info = report.info
    body: dict[str, Any] = asdict(info) if info is not None else {}
    if info is not None and info.probe is not None:
        body["probe"] = info.probe.as_dict()
    body["exit_code"] = int(verdict.code)
    body["reason"] = verdict.reason
    body["interrupted"] = report.interrupted
    body["not_run"] = report.not_run() if report.interrupted else []
    if report.budget:
        cut = [run.name for run in report.runs if run.cut]
        body["budget"] = {**report.budget, "cut_short": cut, "never_started": list(report.over_budget)}
    return body


def suite_metadata(report: Report) -> list[dict[str, Any]]:
    """Per suite: seconds, requests made and answered (by status class), outcomes, and why it tested nothing."""
    found: list[dict[str, Any]] = []
    for name in report.suites():
        checks = report.of(name)
        run = report.run_of(name)
        issues = problems(name, checks, run)
        found.append(
            {
                "name": name,
                "seconds": run.seconds if run is not None else round(sum(c.seconds for c in checks), 3),
                "requests": (run.requests if run is not None else Counts()).as_dict(),
                "checks": _outcomes(checks),
                "exercised": not issues,
                "interrupted": run is not None and run.interrupted,
                "cut_by_budget": run is not None and run.cut,
                "problems": [issue.line() for issue in issues],
            }
        )
    return found


def write_json(report: Report, path: Path, replays: Path | None = None) -> None:
    """The whole report as JSON: verdict, run metadata, suites with their traffic, checks with their failures.

    Each failure has its ``id`` and ``replay`` command when ``replays`` holds its artefact.
    """
    verdict = report.verdict
    body = {
        "ok": verdict.code == 0,
        "exit_code": int(verdict.code),
        "verdict": verdict.as_dict(),
        "run": run_metadata(report, verdict),
        "suites": suite_metadata(report),
        "checks": [_check_json(check, replays) for check in report.checks],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")


# ----------------------------------------------------------------------------------------------------------
# JUnit


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    """Nested values as dotted property names (``requests.status.429``); lists joined by commas."""
    if isinstance(value, dict):
        return [pair for key, inner in value.items() for pair in _flat(f"{prefix}.{key}" if prefix else key, inner)]
    if isinstance(value, list):
        return [(prefix, ",".join(map(str, value)))]
    if isinstance(value, bool):
        return [(prefix, str(value).lower())]
    return [(prefix, "" if value is None else str(value))]


def _properties(parent: ET.Element, pairs: list[tuple[str, str]]) -> None:
    node = ET.SubElement(parent, "properties")
    for name, value in pairs:
        ET.SubElement(node, "property", name=name, value=value)


def write_junit(report: Report, path: Path, replays: Path | None = None) -> None:
    """JUnit XML: a testsuite per suite, a testcase per check; run and suite metadata as ``<properties>``.

    Each failure names its id and replay command when ``replays`` holds its artefact.
    """
    verdict = report.verdict
    run_props = _flat("", run_metadata(report, verdict))
    started = report.info.started_at if report.info is not None else ""
    checks = report.checks
    outcomes = _outcomes(checks)
    suites = suite_metadata(report)
    never = report.not_run() if report.interrupted else []
    untested = sum(bool(suite["problems"]) for suite in suites) + len(never)
    root = ET.Element(
        "testsuites",
        name="contracts",
        tests=str(len(checks) + bool(report.unreachable) + untested),
        failures=str(outcomes["failed"]),
        errors=str(outcomes["error"] + bool(report.unreachable) + untested),
        skipped=str(outcomes["skipped"]),
        time=f"{report.info.seconds if report.info is not None else 0:.3f}",
        timestamp=started,
    )
    _properties(root, run_props)
    if report.unreachable:
        element = ET.SubElement(root, "testsuite", name="target", tests="1", failures="0", errors="1", skipped="0")
        _properties(element, run_props)
        case = ET.SubElement(element, "testcase", classname="target", name="reachable", time="0.000")
        ET.SubElement(case, "error", message=report.unreachable, type="unreachable")
    for suite in suites:
        _suite(root, report.of(suite["name"]), suite, run_props, started, replays)
    for name in never:
        element = ET.SubElement(root, "testsuite", name=name, tests="1", failures="0", errors="1", skipped="0")
        _properties(element, run_props)
        case = ET.SubElement(element, "testcase", classname=name, name="started", time="0.000")
        ET.SubElement(case, "error", message=f"{name} never started: the run was interrupted first", type="interrupted")
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _suite(
    root: ET.Element,
    checks: list[CheckResult],
    suite: dict[str, Any],
    run_props: list[tuple[str, str]],
    started: str,
    replays: Path | None,
) -> None:
    name = suite["name"]
    counts = suite["checks"]
    problems: list[str] = suite["problems"]
    element = ET.SubElement(
        root,
        "testsuite",
        name=name,
        tests=str(len(checks) + bool(problems)),
        failures=str(counts["failed"]),
        errors=str(counts["error"] + bool(problems)),
        skipped=str(counts["skipped"]),
        time=f"{suite['seconds']:.3f}",
        timestamp=started,
    )
    own = {key: value for key, value in suite.items() if key not in ("name", "checks")}
    _properties(element, [*run_props, *_flat("suite", own)])
    for check in checks:
        case = ET.SubElement(element, "testcase", classname=name, name=check.name, time=f"{check.seconds:.3f}")
        if check.outcome is Outcome.FAILED:
            for failure in check.failures:
                node = ET.SubElement(case, "failure", message=f"{failure.rule}: {failure.message}", type=failure.rule)
                node.text = f"{failure.reproduction}\n\n{failure.response}".strip()
                if replays is not None and failure.replay is not None:
                    node.set("id", failure.replay.id)
                    node.text += f"\n\nfailure id {failure.replay.id}: {replay_command(failure.replay, replays)}"
        elif check.outcome is Outcome.ERROR:
            first = check.failures[0].message if check.failures else check.reason
            node = ET.SubElement(case, "error", message=first, type="could-not-run")
            node.text = "\n\n".join(f.message for f in check.failures) or check.reason
        elif check.outcome is Outcome.SKIPPED:
            ET.SubElement(case, "skipped", message=check.reason)
    if problems:  # the suite did not exercise the target: an error a CI report shows, not a quiet property
        # Cut short (Ctrl-C), it exercised only part of it: what it checked is above, the rest never ran.
        testcase, kind = ("completed", "interrupted") if suite["interrupted"] else ("exercised", "not-exercised")
        case = ET.SubElement(element, "testcase", classname=name, name=testcase, time="0.000")
        node = ET.SubElement(case, "error", message=problems[0], type=kind)
        node.text = "\n".join(problems)
