"""Ctrl-C stops a run: the suite in flight is reported interrupted with what it checked, none starts after it,
the exit code is 130 (never 0, nor any other verdict's), and a second Ctrl-C stops the process at once.

The SIGINTs are sent by the test's own server while it answers one of the suite's requests, so they land
mid-suite every time; it holds that answer until the run has said it was interrupted (and, for the second
Ctrl-C, until the process has gone).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml
from schemathesis.engine import events
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from contracts import CheckResult, Failure, Keys, Outcome, Report, Target, engine, partial
from contracts import runner as runner_module
from contracts.interrupt import NOTICE, Interruption
from contracts.meter import Counts
from contracts.results import SuiteRun
from contracts.runinfo import RunInfo
from contracts.suites import Entry, Registry
from contracts.verdict import ExitCode, judge

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_test_interrupts"
HANG_GUARD = 120  # seconds before a wait gives up: the run hangs (a failure), nothing is timed

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Interrupts", "version": "1.0.0"},
    "paths": {
        f"/items{n}": {
            "get": {
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10}}
                ],
                "responses": {"200": {"description": "A page."}, "400": {"description": "Rejected."}},
            }
        }
        for n in range(4)
    },
}


@dataclass
class Interrupting:
    """Answers 200; the first request for an item sends ``signals`` SIGINTs to the run, held until it reacted."""

    signals: int
    process: subprocess.Popen[str] | None = None
    noticed: threading.Event = field(default_factory=threading.Event)  # the run said it was interrupted
    gone: threading.Event = field(default_factory=threading.Event)  # the test saw the process end
    fired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            first = request.path.startswith("/items") and not self.fired
            self.fired = self.fired or first
        if first:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGINT)
            self.noticed.wait(HANG_GUARD)
            if self.signals > 1:
                os.kill(self.process.pid, signal.SIGINT)
                self.gone.wait(HANG_GUARD)  # this answer only goes out once the process has gone
        return Response(status=200)(environ, start_response)


@dataclass
class Interrupted:
    """What an interrupted run left: exit status, console output, JSON and JUnit reports (when written)."""

    status: int
    output: str
    report: dict[str, Any]
    junit: ET.Element | None


def interrupted_run(tmp_path: Path, signals: int) -> Interrupted:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    app = Interrupting(signals)
    lines: list[str] = []
    with serve_wsgi(app) as base_url:
        command = [sys.executable, "-m", "contracts", "run", "--base-url", base_url, "--spec", str(spec)]
        command += ["--key", f"full={KEY}", "--suite", "conformance,stateful", "--seed", "1", "--max-examples", "2"]
        command += ["--json", str(tmp_path / "run.json"), "--junit-xml", str(tmp_path / "run.xml")]
        with subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            app.process = process
            assert process.stdout is not None
            for line in process.stdout:  # until the process closes its output
                lines.append(line)
                if NOTICE.decode().strip() in line:
                    app.noticed.set()
            status = process.wait(HANG_GUARD)
            app.gone.set()
    json_path, xml_path = tmp_path / "run.json", tmp_path / "run.xml"
    report = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {}
    junit = ET.parse(xml_path).getroot() if xml_path.exists() else None
    return Interrupted(status, "".join(lines), report, junit)


@pytest.fixture(scope="module")
def once(tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    return interrupted_run(tmp_path_factory.mktemp("once"), signals=1)


def test_an_interrupted_run_exits_130_and_starts_no_further_suite(once: Interrupted) -> None:
    assert once.status == ExitCode.INTERRUPTED == 130, once.output
    assert "conformance: started" in once.output
    assert "stateful: started" not in once.output
    assert "conformance: INTERRUPTED after" in once.output
    last = once.output.strip().splitlines()[-1]
    assert last.startswith("INTERRUPTED (exit 130): the run was interrupted (Ctrl-C) during the conformance suite")
    assert "never started: stateful" in last


def test_the_json_report_says_the_suite_was_cut_short_and_claims_no_pass(once: Interrupted) -> None:
    body = once.report
    assert (body["ok"], body["exit_code"], body["verdict"]["status"]) == (False, 130, "interrupted")
    assert (body["run"]["interrupted"], body["run"]["not_run"]) == ("conformance", ["stateful"])
    (suite,) = body["suites"]
    assert (suite["name"], suite["interrupted"], suite["exercised"]) == ("conformance", True, False)
    assert suite["requests"]["made"] >= 1
    not_tested = {entry["suite"]: entry["reason"] for entry in body["verdict"]["not_tested"]}
    assert "conformance was interrupted (Ctrl-C) after" in not_tested["conformance"]
    assert "stateful never started" in not_tested["stateful"]
    checks = body["checks"]
    assert [check["name"] for check in checks] == [f"GET /items{n}" for n in range(4)]  # what it did check, and not
    # The run stopped before any item's fuzzing phase: a check cut short is never a pass.
    assert {check["outcome"] for check in checks} <= {"skipped", "failed"}
    assert all("interrupted (Ctrl-C) before" in check["reason"] for check in checks)


def test_the_junit_report_has_an_interrupted_error_per_suite_cut_short_or_never_started(once: Interrupted) -> None:
    assert once.junit is not None
    suites = {suite.get("name"): suite for suite in once.junit.iter("testsuite")}
    completed = suites["conformance"].find("testcase[@name='completed']/error")
    assert completed is not None
    assert completed.get("type") == "interrupted"
    started = suites["stateful"].find("testcase[@name='started']/error")
    assert started is not None
    assert started.get("type") == "interrupted"
    exit_code = once.junit.find("properties/property[@name='exit_code']")
    assert exit_code is not None
    assert exit_code.get("value") == "130"


def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    """The run waits on an answer the server holds until the process has gone: only stopping at once ends it."""
    run = interrupted_run(tmp_path, signals=2)
    assert run.status == -signal.SIGINT, run.output  # ended by the signal itself, as an unhandled SIGINT ends it
    assert NOTICE.decode().strip() in run.output
    assert not run.report  # no time was taken to write reports


# --- in process ------------------------------------------------------------------------------------------


def test_a_hand_written_suite_interrupted_keeps_its_checks_and_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    def suite(name: str) -> Any:
        def run(target: Target) -> Iterator[CheckResult]:
            started.append(name)
            yield CheckResult(name, "first", Outcome.PASSED)
            raise KeyboardInterrupt

        return run

    registry = Registry(Entry(name, suite(name), default=True) for name in ("rules", "security"))
    monkeypatch.setattr(runner_module.probe, "reach", lambda target: _Reach())
    target = Target("http://127.0.0.1:9", ROOT / "openapi.yaml", keys=Keys(full=KEY), suites=("rules", "security"))
    report = runner_module.run(target, registry=registry)
    assert started == ["rules"]
    assert [(check.name, check.outcome) for check in report.checks] == [("first", Outcome.PASSED)]
    assert [(run.name, run.interrupted) for run in report.runs] == [("rules", True)]
    assert (report.interrupted, report.not_run()) == ("rules", ["security"])
    verdict = judge(report)
    assert verdict.code == ExitCode.INTERRUPTED
    assert verdict.label == "INTERRUPTED"
    assert "rules was interrupted (Ctrl-C) after 0 request(s)" in verdict.untested[0].text
    assert verdict.untested[-1].text == "security never started: interrupted (Ctrl-C) first"


@dataclass
class _Reach:
    ok: bool = True
    problem: str = ""


def test_an_interruption_wins_over_a_breach_and_says_both() -> None:
    broken = CheckResult("rules", "totals", Outcome.FAILED, [Failure("rules.totals", "off by a cent", status=201)])
    info = RunInfo.of(
        Target("http://127.0.0.1:9", ROOT / "openapi.yaml", suites=("rules", "security")), dt.datetime.now(dt.UTC)
    )
    counts = Counts(made=3, answered=3, status={"2xx": 3})
    report = Report(checks=[broken], runs=[SuiteRun("rules", 1.0, counts, interrupted=True)], info=info)
    report.interrupted = "rules"
    verdict = judge(report)
    assert verdict.code == ExitCode.INTERRUPTED
    assert "during the rules suite" in verdict.reason
    assert "rules.totals" in verdict.reason
    assert "never started: security" in verdict.reason
    assert verdict.failed == ["rules/totals"]


def test_a_check_cut_short_claims_no_pass() -> None:
    passed = CheckResult("conformance", "GET /x", Outcome.PASSED)
    cut = partial.unfinished(passed, partial.phases(["coverage", "fuzzing"], reached=True), 4)
    assert cut.outcome is Outcome.SKIPPED
    assert cut.reason == (
        "not judged: interrupted (Ctrl-C) before its coverage and fuzzing phases ran (4 answer(s) so far, none "
        "broke a rule)"
    )
    failed = CheckResult("conformance", "GET /x", Outcome.FAILED, [Failure("conformance.x", "no")])
    assert partial.unfinished(failed, "it was reached", 1).outcome is Outcome.FAILED
    assert partial.unfinished(passed, "", 4) is passed  # nothing was left to run: the pass stands


def test_a_ctrl_c_in_the_harness_stops_the_engine_and_claims_no_pass(tmp_path: Path) -> None:
    """A KeyboardInterrupt may land in the harness's own code between two engine events, not in Schemathesis."""
    seen: list[str] = []

    def interrupt_after_the_first_scenario(event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished) and event.label and not seen:
            seen.append(event.label)
            raise KeyboardInterrupt

    run, results = _interrupted_engine_run(tmp_path, interrupt_after_the_first_scenario)
    assert run.interrupted
    assert [result.name for result in results] == [f"GET /items{n}" for n in range(4)]
    assert Outcome.PASSED not in {result.outcome for result in results}


# --- a Ctrl-C whose KeyboardInterrupt Python swallowed ---------------------------------------------------------
# The handler notes the Ctrl-C, then raises KeyboardInterrupt wherever the main thread is. Landing in a finalizer
# (``__del__``, a weakref callback), Python prints "Exception ignored" and goes on: only the note is left.


def test_a_ctrl_c_whose_exception_was_swallowed_still_stops_the_engine(tmp_path: Path) -> None:
    interruption = Interruption()

    def note_a_ctrl_c_after_the_first_scenario(event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished) and event.label:
            interruption.requested = True  # what the handler leaves when its exception never arrives

    run, results = _interrupted_engine_run(tmp_path, note_a_ctrl_c_after_the_first_scenario, interruption)
    assert run.interrupted
    assert run.stop_reason == "interrupted"
    assert [result.name for result in results] == [f"GET /items{n}" for n in range(4)]
    assert Outcome.PASSED not in {result.outcome for result in results}  # before the fix: four passes, run on


def test_a_ctrl_c_whose_exception_was_swallowed_stops_a_hand_written_suite_after_its_next_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As on a spent budget: a generator cannot say before it is asked whether its next check sends anything."""
    interruption = Interruption()
    sent: list[str] = []

    def suite(name: str) -> Any:
        def run(target: Target) -> Iterator[CheckResult]:
            for check in ("first", "second", "third"):
                sent.append(f"{name}/{check}")
                target.meter.answered(200)
                if check == "first":
                    interruption.requested = True
                yield CheckResult(name, check, Outcome.PASSED)

        return run

    registry = Registry(Entry(name, suite(name), default=True) for name in ("rules", "security"))
    monkeypatch.setattr(runner_module.probe, "reach", lambda target: _Reach())
    target = Target("http://127.0.0.1:9", ROOT / "openapi.yaml", keys=Keys(full=KEY), suites=("rules", "security"))
    report = runner_module.run(target, interruption=interruption, registry=registry)
    assert sent == ["rules/first", "rules/second"]  # before the fix: all three, and the next suite
    assert [(check.name, check.outcome) for check in report.checks] == [
        ("first", Outcome.PASSED),
        ("second", Outcome.PASSED),
    ]
    assert (report.interrupted, report.not_run()) == ("rules", ["security"])
    assert judge(report).code == ExitCode.INTERRUPTED


def _interrupted_engine_run(
    tmp_path: Path, observer: Callable[[events.EngineEvent], None], interruption: Interruption | None = None
) -> tuple[engine.Run, list[CheckResult]]:
    """The engine over SPEC against a server answering 200, ``observer`` seeing each event; it must end interrupted."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    with serve_wsgi(lambda environ, start: Response(status=200)(environ, start)) as base_url:
        target = Target(base_url, spec, keys=Keys(full=KEY), seed=1, max_examples=2, interruption=interruption)
        config = engine.build_config(target, phases=engine.fuzzing_phases(), max_examples=2)
        run = engine.Run(target, "conformance", engine.load(target, config), observer=observer)
        results: list[CheckResult] = []
        with pytest.raises(KeyboardInterrupt):
            results.extend(run.checks())
    return run, results
