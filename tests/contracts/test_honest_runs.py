"""A run never claims more than it checked: exit codes, request counts, metadata in reports, plain progress in CI."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from conftest import yaml_text
from faulty import VARIANTS, serve

from contracts import CheckResult, Failure, Keys, Outcome, Report, Target, engine, spec_document
from contracts.cli import main
from contracts.meter import THROTTLE_STREAK, Counts, Meter
from contracts.progress import HEARTBEAT_SECONDS, Console, use_ansi
from contracts.results import NO_ANSWER, SuiteRun, judged
from contracts.runner import _setup
from contracts.target import SANDBOX_KEYS
from contracts.verdict import ExitCode, judge
from mockserver.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
KEY_FLAGS = [flag for role, key in SANDBOX_KEYS.items() for flag in ("--key", f"{role}={key}")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cut_spec(paths: tuple[str, ...], folder: Path) -> Path:
    """openapi.yaml with only ``paths``, for a short conformance run."""
    document: dict[str, Any] = spec_document.read(SPEC)
    document["paths"] = {path: item for path, item in document["paths"].items() if path in paths}
    spec = folder / "openapi.yaml"
    spec.write_text(yaml_text(document), encoding="utf-8")
    return spec


def contracts_run(base_url: str, *args: str) -> int:
    return main(["run", "--base-url", base_url, "--seed", "1", "--max-examples", "2", *args])


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def counts(made: int, **status: int) -> Counts:
    by_class = {"2xx": 0, "3xx": 0, "4xx": 0, "429": 0, "5xx": 0, **{k.removeprefix("s"): v for k, v in status.items()}}
    return Counts(made=made, answered=sum(by_class.values()), status=by_class)


# --- exit codes against real sandboxes ------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.parametrize(
    ("suites", "paths"),
    [("rules,security", ()), ("conformance", ("/units", "/currencies"))],
    ids=["hand-written suites", "schemathesis"],
)
def test_a_rate_limited_sandbox_exits_3_naming_429(
    suites: str, paths: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = cut_spec(paths, tmp_path) if paths else SPEC
    report = tmp_path / "report.json"
    with serve(config=Settings(seed=1, strict=False, rate_limit=5, quiet=True)) as base_url:
        code = contracts_run(base_url, "--suite", suites, "--spec", str(spec), "--json", str(report))
    out = capsys.readouterr().out
    assert code == ExitCode.UNTESTED, out[-3000:]
    final = last_line(out)
    assert final.startswith("NOT TESTED (exit 3): ")
    assert "answered 429 to" in final
    assert "--rate-limit" in final
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["exit_code"] == 3
    assert not body["ok"]
    for suite in body["suites"]:
        requests = suite["requests"]
        assert not suite["exercised"]
        assert requests["made"] > 0
        assert requests["status"]["429"] > requests["answered"] / 2
        assert any("429" in problem for problem in suite["problems"])
        assert suite["checks"]["failed"] == 0  # a 429 is never mistaken for a breach


@pytest.mark.live
def test_an_unreachable_base_url_exits_3_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1"
    started = time.monotonic()
    code = contracts_run(url, "--json", str(tmp_path / "r.json"))
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == ExitCode.UNTESTED
    assert elapsed < 5, f"took {elapsed:.1f} s: every suite ran into connection errors"
    final = last_line(out)
    assert final.startswith(f"NOT TESTED (exit 3): could not connect to {url}")
    assert "is it running? check --base-url" in final
    body = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert body["checks"] == []
    assert body["run"]["probe"]["status"] is None


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert contracts_run("http://127.0.0.1:9/api/v1", "--spec", str(tmp_path / "none.yaml")) == ExitCode.USAGE
    assert "no spec at" in capsys.readouterr().err
    assert contracts_run("127.0.0.1:9/api/v1") == ExitCode.USAGE
    assert "http(s)://" in capsys.readouterr().err


@pytest.fixture(scope="module")
def breach(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``contracts run --suite security`` (every key on the command line) against a sandbox that leaks records."""
    folder = tmp_path_factory.mktemp("reports")
    capture = io.StringIO()
    with serve(VARIANTS["bola_leak"]) as base_url, pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", capture)
        args = ["--suite", "security", *KEY_FLAGS, "--json", str(folder / "r.json"), "--junit-xml"]
        code = contracts_run(base_url, *args, str(folder / "r.xml"))
    return {
        "code": code,
        "base_url": base_url,
        "out": capture.getvalue(),
        "json": (folder / "r.json").read_text(encoding="utf-8"),
        "xml": (folder / "r.xml").read_text(encoding="utf-8"),
        "replay": "\n".join(path.read_text(encoding="utf-8") for path in sorted((folder / "replay").glob("*.json"))),
    }


@pytest.mark.live
def test_a_real_breach_still_exits_1(breach: dict[str, Any]) -> None:
    assert breach["code"] == ExitCode.BROKEN, breach["out"][-3000:]
    final = last_line(breach["out"])
    assert final.startswith("FAILED (exit 1): the target broke the contract")
    assert "security.bola" in final
    assert json.loads(breach["json"])["verdict"]["failed_checks"] == ["security/bola"]


@pytest.mark.live
def test_the_json_report_carries_the_run_metadata_and_request_counts(breach: dict[str, Any]) -> None:
    body = json.loads(breach["json"])
    run = body["run"]
    assert run["base_url"] == breach["base_url"]
    assert run["spec_path"] == str(SPEC)
    assert run["spec_sha256"] == hashlib.sha256(SPEC.read_bytes()).hexdigest()
    assert (run["seed"], run["max_examples"], run["shrink"], run["suites"]) == (1, 2, True, ["security"])
    assert run["key_roles"] == ["full", "readonly", "other", "expired"]
    assert dt.datetime.fromisoformat(run["started_at"]).tzinfo is not None
    assert run["seconds"] > 0
    assert set(run["versions"]) == {"contracts", "schemathesis", "hypothesis", "python"}
    assert (run["exit_code"], body["exit_code"]) == (1, 1)
    assert run["reason"].startswith("the target broke the contract")
    assert isinstance(run["probe"]["status"], int)
    [suite] = body["suites"]
    requests = suite["requests"]
    assert suite["name"] == "security"
    assert suite["seconds"] > 0
    assert requests["made"] == requests["answered"] > 50
    assert sum(requests["status"].values()) == requests["answered"]
    assert requests["status"]["2xx"] > 0
    assert requests["status"]["429"] == 0
    assert sum(requests["no_answer"].values()) == 0
    assert suite["exercised"]


@pytest.mark.live
def test_the_junit_report_carries_them_as_properties(breach: dict[str, Any]) -> None:
    root = ET.fromstring(breach["xml"])
    top = {p.get("name"): p.get("value") for p in root.findall("./properties/property")}
    assert top["base_url"] == breach["base_url"]
    assert top["spec_sha256"] == hashlib.sha256(SPEC.read_bytes()).hexdigest()
    assert (top["seed"], top["suites"], top["exit_code"]) == ("1", "security", "1")
    assert top["versions.schemathesis"]
    assert top["versions.hypothesis"]
    assert top["versions.python"]
    assert top["reason"].startswith("the target broke the contract")
    assert "started_at" in top
    assert "seconds" in top
    [suite] = root.findall("testsuite")
    own = {p.get("name"): p.get("value") for p in suite.findall("./properties/property")}
    made = json.loads(breach["json"])["suites"][0]["requests"]["made"]
    assert own["suite.requests.made"] == own["suite.requests.answered"] == str(made)
    assert own["suite.requests.status.429"] == "0"
    assert own["suite.exercised"] == "true"
    assert own["base_url"] == breach["base_url"]
    assert int(suite.get("failures") or 0) >= 1
    assert suite.find("./testcase/failure") is not None


@pytest.mark.live
def test_no_report_and_no_output_holds_a_key(breach: dict[str, Any]) -> None:
    assert "${CONTRACTS_KEY_OTHER}" in breach["json"]  # the reproduction names the key by role
    assert '"role": "other"' in breach["replay"]  # a replay artefact names the role it sends the key of
    for role, key in SANDBOX_KEYS.items():
        for where in ("json", "xml", "out", "replay"):
            assert key not in breach[where], f"the {role} key is in the {where} output"


@pytest.mark.live
def test_progress_streams_plain_text_when_not_a_tty(breach: dict[str, Any]) -> None:
    out = breach["out"]
    assert "\x1b" not in out
    lines = out.splitlines()
    started = lines.index("security: started")
    live = [n for n, line in enumerate(lines) if line.startswith("  ...  security")]
    finished = [n for n, line in enumerate(lines) if line.startswith(("  PASS  security", "  FAIL  security"))]
    assert live
    assert finished
    assert started < live[0] < finished[0]  # a line while the first check runs, not only when it ends
    assert "security/auth" in lines[live[0]]
    assert "requests" in lines[live[0]]
    assert "failures 0" in lines[live[0]]


# --- the verdict --------------------------------------------------------------------------------------


def check(suite: str, name: str, outcome: Outcome, *failures: Failure) -> CheckResult:
    return CheckResult(suite, name, outcome, list(failures))


def test_a_breach_wins_over_could_not_test_and_says_both() -> None:
    report = Report(
        checks=[
            check("rules", "totals", Outcome.FAILED, Failure("rules.totals", "off by a cent", status=201)),
            check("conformance", "GET /units", Outcome.PASSED),
        ],
        runs=[SuiteRun("rules", 1.0, counts(10, s2xx=10)), SuiteRun("conformance", 1.0, counts(100, s429=90, s2xx=10))],
    )
    verdict = judge(report)
    assert verdict.code == ExitCode.BROKEN
    assert "rules.totals" in verdict.reason
    assert "conformance: target answered 429 to 90 of 100 requests" in verdict.reason
    assert not report.ok


@pytest.mark.parametrize(
    ("requests", "code"),
    [
        (counts(100, s429=50, s2xx=50), ExitCode.OK),  # half: still exercised
        (counts(100, s429=51, s2xx=49), ExitCode.UNTESTED),  # more than half
        (Counts(made=8, no_answer={"connection": 8, "timeout": 0, "other": 0}), ExitCode.UNTESTED),
        (Counts(made=10, answered=4, status={"2xx": 4}, no_answer={"connection": 0, "timeout": 6}), ExitCode.UNTESTED),
        (Counts(), ExitCode.UNTESTED),  # passed without a request
    ],
    ids=["half 429", "most 429", "no answer", "most timed out", "no request"],
)
def test_a_suite_is_exercised_only_under_the_thresholds(requests: Counts, code: ExitCode) -> None:
    report = Report(checks=[check("rules", "sort", Outcome.PASSED)], runs=[SuiteRun("rules", 1.0, requests)])
    assert judge(report).code == code, judge(report).reason


def test_a_suite_with_every_check_skipped_or_unable_to_run_tested_nothing() -> None:
    skipped = Report(checks=[check("security", "security/bola", Outcome.SKIPPED)])
    assert judge(skipped).code == ExitCode.UNTESTED
    assert "every check of security was skipped" in judge(skipped).reason
    errored = Report(
        checks=[
            check("rules", "sort", Outcome.PASSED),
            check("rules", "search", Outcome.ERROR, Failure("rules.search", "a request failed", status=NO_ANSWER)),
        ]
    )
    assert judge(errored).code == ExitCode.UNTESTED
    assert "1 check(s) of rules could not run (search: a request failed)" in judge(errored).reason
    assert judge(Report(checks=[check("rules", "sort", Outcome.PASSED)])).code == ExitCode.OK


def test_a_finding_about_a_429_or_no_answer_is_no_breach() -> None:
    real = Failure("rules.sort", "out of order", status=200)
    limited = Failure("rules.sort", "setup: POST /customers must answer 201", status=429)
    lost = Failure("rules.sort", "a request failed", status=NO_ANSWER)
    assert judged("rules", "sort", [limited]).outcome is Outcome.SKIPPED
    assert "429" in judged("rules", "sort", [limited]).reason
    assert judged("rules", "sort", [lost]).outcome is Outcome.ERROR
    mixed = judged("rules", "sort", [real, limited, lost])
    assert (mixed.outcome, mixed.failures) == (Outcome.FAILED, [real])
    assert judged("rules", "sort", []).outcome is Outcome.PASSED


# --- the meter and the console ------------------------------------------------------------------------


def test_schemathesis_calls_without_an_answer_are_counted_on_the_targets_meter(tmp_path: Path) -> None:
    spec = cut_spec(("/units",), tmp_path)
    target = Target(f"http://127.0.0.1:{free_port()}/api/v1", spec, keys=Keys(full=SANDBOX_KEYS["full"]), seed=1)
    config = engine.build_config(target, phases=engine.fuzzing_phases(), max_examples=2)
    results = engine.Run(target, "conformance", engine.load(target, config)).execute()  # no first probe here
    seen = target.meter.counts()
    assert seen.made >= 1
    assert seen.answered == 0
    assert seen.no_answer["connection"] == seen.made
    assert "Connection refused" in seen.first_error
    assert Outcome.FAILED not in {result.outcome for result in results}


def test_the_meter_counts_answers_by_class_and_stops_a_client_after_a_429_streak() -> None:
    meter = Meter()
    for status in (200, 201, 302, 404, 429, 500):
        meter.answered(status)
    meter.unanswered(ConnectionRefusedError(111, "Connection refused"), "GET /x")
    meter.unanswered(TimeoutError("timed out"))
    seen = meter.counts()
    assert (seen.made, seen.answered, seen.rate_limited, seen.unanswered) == (8, 6, 1, 2)
    assert seen.status == {"2xx": 2, "3xx": 1, "4xx": 1, "429": 1, "5xx": 1}
    assert seen.no_answer == {"connection": 1, "timeout": 1, "other": 0}
    assert seen.first_error.startswith("GET /x: ")
    for _ in range(THROTTLE_STREAK - 1):
        meter.answered(429)
    assert not meter.throttled
    meter.answered(429)
    assert meter.throttled
    meter.answered(200)
    assert not meter.throttled


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_and_redrawing_only_on_a_terminal_outside_ci() -> None:
    assert use_ansi(FakeTty(), {})
    assert not use_ansi(io.StringIO(), {})
    assert not use_ansi(FakeTty(), {"CI": "true"})
    assert not use_ansi(FakeTty(), {"NO_COLOR": "1"})
    assert not use_ansi(FakeTty(), {"TERM": "dumb"})


def test_the_plain_console_prints_each_new_activity_and_a_heartbeat() -> None:
    now = [0.0]
    out = io.StringIO()
    console = Console(out, ansi=False, clock=lambda: now[0])
    meter = Meter(console.activity)
    console.suite_started("rules")
    meter.now("pagination")
    meter.answered(200)  # same activity, no heartbeat due: no line
    now[0] = HEARTBEAT_SECONDS + 1
    meter.answered(429)  # heartbeat
    console.check_finished(check("rules", "pagination", Outcome.PASSED), meter)
    console.suite_finished(SuiteRun("rules", 12.0, meter.counts()))
    assert out.getvalue().splitlines() == [
        "rules: started",
        "  ...  rules         pagination  [0 requests, failures 0]",
        "  ...  rules         pagination  [2 requests (429: 1), failures 0]",
        "  PASS  rules        pagination",
        "rules: 2 requests, 2 answered (2xx 1, 429 1), 0 without answer, 12.0 s",
    ]


def test_the_terminal_console_redraws_one_coloured_status_line() -> None:
    out = FakeTty()
    console = Console(out, ansi=True)
    meter = Meter(console.activity)
    console.suite_started("rules")
    meter.now("pagination")
    console.check_finished(check("rules", "pagination", Outcome.FAILED), meter)
    text = out.getvalue()
    assert "\r\x1b[K" in text
    assert "\x1b[31mFAIL\x1b[0m" in text


def test_the_setup_hook_gets_the_keys_and_the_admin_token(tmp_path: Path) -> None:
    seen = tmp_path / "env.txt"
    script = (
        "import os, sys; env = os.environ; "
        "open(sys.argv[1], 'w').write(env['CONTRACTS_KEY_FULL'] + ' ' + env['CONTRACTS_ADMIN_TOKEN'])"
    )
    target = Target(
        "http://127.0.0.1:9/api/v1",
        SPEC,
        keys=Keys(full="sk_test_full"),
        admin_token="admin-secret",
        setup_hook=f"{sys.executable} -c {shlex.quote(script)} {seen}",
    )
    report = Report()
    assert _setup(target, report)
    assert seen.read_text() == "sk_test_full admin-secret"
    assert "admin-secret" not in str(report.checks)
