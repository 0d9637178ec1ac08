"""--max-examples bounds what a run sends per operation, in every phase of conformance and in stateful.

Schemathesis's coverage phase enumerates every case a schema defines whatever max-examples says (141,320 for
Xero's POST /CreditNotes), and its stateful phase reruns the state machine after each new failure and shrinks
each one: neither is bounded by max-examples unless the harness bounds it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import yaml
from schemathesis.core.result import Ok
from schemathesis.engine import events
from schemathesis.generation.coverage import GenerationSession
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from contracts import Keys, Outcome, Target, budget, coverage, engine, probe
from contracts import stateful as sf
from contracts.budget import Budget
from contracts.cli import main
from contracts.results import CheckResult
from contracts.runner import run
from contracts.suites import Entry, Registry

KEY = "sk_test_bounds"
PROPERTIES = 40  # a flat body of 40 bounded integers: 534 coverage cases, over the bound at --max-examples 1
BOUNDS_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Bounds", "version": "1.0.0"},
    "paths": {
        "/deep": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["p0"],
                                "properties": {
                                    f"p{i}": {"type": "integer", "minimum": 0, "maximum": 9} for i in range(PROPERTIES)
                                },
                            }
                        }
                    },
                },
                "responses": {"201": {"description": "Created."}, "400": {"description": "Rejected."}},
            }
        },
        "/flat": {
            "get": {
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10}}
                ],
                "responses": {"200": {"description": "A page."}, "400": {"description": "Rejected."}},
            }
        },
    },
}


class Counting:
    """Answers every request (201 to a POST, 200 otherwise) and counts them by method and path."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.seen[f"{request.method} {request.path}"] += 1
        return Response(status=201 if request.method == "POST" else 200)(environ, start_response)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    with serve_wsgi(app) as root:
        yield root


@pytest.fixture(scope="module")
def bounds_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = tmp_path_factory.mktemp("spec") / "bounds.yaml"
    spec.write_text(yaml.safe_dump(BOUNDS_SPEC), encoding="utf-8")
    return spec


def schema_of(spec: Path, max_examples: int) -> Any:
    target = Target("http://127.0.0.1:9", spec, keys=Keys(full=KEY), max_examples=max_examples)
    return engine.load(target, engine.build_config(target, phases=engine.fuzzing_phases(), max_examples=max_examples))


def test_an_operation_has_coverage_only_while_its_cases_fit_the_bound(bounds_spec: Path) -> None:
    schema = schema_of(bounds_spec, 1)
    assert coverage.bound(1) < 534 <= coverage.bound(6)
    assert coverage.oversized(schema, coverage.bound(1)) == ["POST /deep"]
    assert coverage.oversized(schema, coverage.bound(6)) == []


def alone(schema: Any, label: str) -> int:
    """How many coverage cases one operation has when counted by itself, in a generation session of its own."""
    operation = next(r.ok() for r in schema.get_all_operations() if isinstance(r, Ok) and r.ok().label == label)
    generation = schema.config.generation_for(operation=operation, phase=coverage.PHASE)
    session = GenerationSession()
    try:
        cases = schema.iter_coverage_cases(
            operation, generation_modes=generation.modes, generation_config=generation, session=session
        )
        return sum(1 for _ in cases)
    finally:
        session.close()


def test_operations_on_one_path_are_each_counted_as_if_alone(tmp_path: Path) -> None:
    """Counted together (one generation session), each operation still counts its path's undeclared-method probes."""
    spec = tmp_path / "pair.yaml"
    flat = BOUNDS_SPEC["paths"]["/flat"]["get"]
    spec.write_text(yaml.safe_dump({**BOUNDS_SPEC, "paths": {"/pair": {"get": flat, "put": flat}}}), encoding="utf-8")
    schema = schema_of(spec, 1)
    counts = [alone(schema, "GET /pair"), alone(schema, "PUT /pair")]
    assert coverage.oversized(schema, min(counts) - 1) == ["GET /pair", "PUT /pair"]
    assert coverage.oversized(schema, max(counts)) == []


def test_max_examples_bounds_the_requests_per_operation_in_every_phase(bounds_spec: Path, tmp_path: Path) -> None:
    app = Counting()
    report = tmp_path / "report.json"
    with serve(app) as base_url:
        args = ["--spec", str(bounds_spec), "--key", f"full={KEY}", "--suite", "conformance"]
        code = main(["run", "--base-url", base_url, *args, "--seed", "1", "--max-examples", "1", "--json", str(report)])
    # Per operation: the spec's examples (none here), coverage cases (at most the bound), N fuzzed examples.
    assert app.seen["POST /deep"] <= coverage.bound(1) + 1, app.seen
    assert app.seen["GET /flat"] <= coverage.bound(1) + 1, app.seen
    assert app.seen["GET /flat"] > 1  # its coverage phase (19 cases) did run
    body = json.loads(report.read_text(encoding="utf-8"))
    checks = {check["name"]: check for check in body["checks"]}
    assert "coverage phase not run: more than 100 cases" in checks["POST /deep"]["reason"]
    assert "coverage" not in checks["GET /flat"]["reason"]
    assert code == body["exit_code"]


# A state machine over many linked operations, each of whose reads fails: a new failure per operation.

RESOURCES = 12


def failing_reads_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for n in range(RESOURCES):
        one = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
        paths[f"/r{n}"] = {
            "post": {
                "operationId": f"create{n}",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "201": {
                        "description": "Created.",
                        "content": {"application/json": {"schema": one}},
                        "links": {"Get": {"operationId": f"get{n}", "parameters": {"id": "$response.body#/id"}}},
                    }
                },
            }
        }
        paths[f"/r{n}/{{id}}"] = {
            "get": {
                "operationId": f"get{n}",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "It.", "content": {"application/json": {"schema": one}}}},
            }
        }
    return {"openapi": "3.1.0", "info": {"title": "Failing reads", "version": "1.0.0"}, "paths": paths}


def failing_reads(environ: dict[str, Any], start_response: Any) -> Any:
    """Creates answer 201 with an id; every read is a 500."""
    request = Request(environ)
    if request.method == "POST":
        return Response(json.dumps({"id": 1}), status=201, content_type="application/json")(environ, start_response)
    return Response(json.dumps({"error": "boom"}), status=500, content_type="application/json")(environ, start_response)


def test_a_stateful_round_stops_after_max_failures_and_never_shrinks(tmp_path: Path) -> None:
    spec = tmp_path / "failing.yaml"
    spec.write_text(yaml.safe_dump(failing_reads_spec()), encoding="utf-8")
    machines = 0

    def count(event: events.EngineEvent) -> None:
        nonlocal machines
        machines += isinstance(event, events.SuiteStarted) and event.phase.value == "stateful"

    with serve(failing_reads) as base_url:
        target = Target(base_url, spec, keys=Keys(full=KEY), seed=1, max_examples=1)
        schema = sf._load(target, sf.SCENARIOS_PER_EXAMPLE, infer=False)
        (result,) = engine.Run(target, "stateful", schema, single=sf.NAME, observer=count).execute()
    assert result.outcome is Outcome.FAILED
    # Schemathesis reruns the machine after each new failure: without the limit, one machine per failing read.
    assert 1 <= machines <= sf.MAX_FAILURES + 1, machines
    assert "stopped after" not in result.reason  # (the suite says so; this is one round, run by hand)
    # Shrinking replays scenarios as often as Hypothesis likes: off, a machine sends at most its scenarios' steps.
    assert hypothesis.Phase.shrink not in schema.config.get_hypothesis_settings(phase="stateful").phases
    assert target.meter.counts().made <= machines * sf.SCENARIOS_PER_EXAMPLE * sf.MAX_STEPS


# --budget: what the whole run may spend, seconds or requests; what it cut short claims no pass.


def run_json(base_url: str, spec: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    args = ["run", "--base-url", base_url, "--spec", str(spec), "--key", f"full={KEY}", "--seed", "1"]
    code = main([*args, *extra, "--json", str(report)])
    return code, json.loads(report.read_text(encoding="utf-8"))


def test_a_request_budget_stops_the_run_and_names_what_it_left_unchecked(bounds_spec: Path, tmp_path: Path) -> None:
    app = Counting()
    with serve(app) as base_url:
        code, body = run_json(base_url, bounds_spec, tmp_path, "--suite", "conformance,stateful", "--budget", "40req")
    conformance = next(suite for suite in body["suites"] if suite["name"] == "conformance")
    # The engine stops as the 40th counted request comes back (a request already on the wire may finish).
    assert 40 <= conformance["requests"]["made"] <= 42, conformance["requests"]
    assert conformance["cut_by_budget"] is True
    budget = body["run"]["budget"]
    assert budget["limit"] == "40req"
    assert budget["spent"] is True
    assert budget["requests"] >= 40
    assert budget["cut_short"] == ["conformance"]
    assert budget["never_started"] == ["stateful"]
    assert "stateful" not in [suite["name"] for suite in body["suites"]]
    # Without --budget this run sends several hundred requests; cut short, no operation claims a pass.
    assert all(check["outcome"] == "skipped" for check in body["checks"]), body["checks"]
    assert any("the budget was spent before" in check["reason"] for check in body["checks"])
    assert code == 3  # nothing reached a verdict: the run tested nothing
    assert body["exit_code"] == 3
    assert "the budget (40req) was spent before any check reached a verdict" in body["verdict"]["reason"]


def test_a_budget_the_run_stays_within_changes_nothing(bounds_spec: Path, tmp_path: Path) -> None:
    with serve(Counting()) as base_url:
        code, body = run_json(base_url, bounds_spec, tmp_path, "--suite", "conformance", "--max-examples", "1")
        code_budget, budgeted = run_json(
            base_url,
            bounds_spec,
            tmp_path,
            "--suite",
            "conformance",
            "--max-examples",
            "1",
            "--budget",
            "10m,100000req",
        )
    # (Counting answers every method, so both runs fail the same checks: the budget changes no verdict.)
    assert code == code_budget
    assert [(c["name"], c["outcome"]) for c in body["checks"]] == [
        (c["name"], c["outcome"]) for c in budgeted["checks"]
    ]
    assert body["suites"][0]["requests"]["made"] == budgeted["suites"][0]["requests"]["made"]
    assert budgeted["run"]["budget"]["spent"] is False
    assert budgeted["run"]["budget"]["cut_short"] == []
    assert "budget" not in budgeted["verdict"]["reason"]


class Slow(Counting):
    """Answers like ``Counting``, each request after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        threading.Event().wait(self.delay)
        return super().__call__(environ, start_response)


def test_a_time_budget_cuts_the_stateful_suite_and_its_verdict_is_no_pass(tmp_path: Path) -> None:
    spec = tmp_path / "failing.yaml"
    spec.write_text(yaml.safe_dump(failing_reads_spec()), encoding="utf-8")
    app = Slow(0.3)  # four rounds of this machine send dozens of requests: a minute or more at 0.3 s each
    with serve(app) as base_url:
        started = time.monotonic()
        code, body = run_json(base_url, spec, tmp_path, "--suite", "stateful,conformance", "--budget", "3s")
        elapsed = time.monotonic() - started
    assert elapsed < 20, elapsed  # the budget, the loading of the spec, and the request in flight
    stateful = body["suites"][0]
    assert stateful["name"] == "stateful"
    assert stateful["cut_by_budget"] is True
    (check,) = body["checks"]
    # Whatever it found in time (its reads all fail with 500) is kept, marked partial; it never claims a pass.
    assert check["outcome"] in ("failed", "skipped")
    assert "the budget was spent before" in check["reason"]
    assert body["run"]["budget"]["never_started"] == ["conformance"]
    assert code == body["exit_code"]
    assert code == (1 if check["outcome"] == "failed" else 3)
    assert "the budget (3s) was spent" in body["verdict"]["reason"]
    assert "never started: conformance" in body["verdict"]["reason"]


def test_a_suite_judged_check_by_check_stops_after_the_check_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[int] = []

    def counted(target: Target) -> Iterator[CheckResult]:
        for n in range(10):  # ten checks of three requests each
            for _ in range(3):
                sent.append(n)
                target.meter.answered(200)
            yield CheckResult("counted", f"check {n}", Outcome.PASSED)

    target = Target(
        "http://127.0.0.1:9", Path("openapi.yaml"), suites=("counted",), budget=Budget(budget.parse("7req"))
    )
    monkeypatch.setattr(probe, "reach", lambda target: probe.Reach(status=200, seconds=0.0))
    report = run(target, registry=Registry([Entry("counted", counted, default=False)]))
    # Spent during check 2 (requests 7-9): it finishes; a generator cannot say whether its next check is judged
    # already, so the runner asks once more, keeps what that check found, and stops: at most one check over.
    assert [check.name for check in report.checks] == ["check 0", "check 1", "check 2", "check 3"]
    assert len(sent) == 12
    assert report.runs[0].cut
    assert report.budget["requests"] == 12
    assert report.verdict.code == 0
    assert "the budget (7req) was spent: cut short counted" in report.verdict.reason


@pytest.mark.parametrize(
    ("text", "seconds", "requests"),
    [
        ("90s", 90.0, None),
        ("2m", 120.0, None),
        ("1h", 3600.0, None),
        ("5000req", None, 5000),
        ("45", 45.0, None),
        ("2m,5000req", 120.0, 5000),
        (" 1.5 min , 10 requests ", 90.0, 10),
    ],
)
def test_budget_syntax(text: str, seconds: float | None, requests: int | None) -> None:
    assert budget.parse(text) == budget.Limit(seconds, requests)


@pytest.mark.parametrize("text", ["", "0s", "-5s", "ten", "5.5req", "1s,2s", "10req,20req", "3 days"])
def test_a_budget_that_is_not_one_is_a_usage_error(
    text: str, bounds_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="--budget"):
        budget.parse(text)
    code = main(["run", "--base-url", "http://127.0.0.1:9", "--spec", str(bounds_spec), f"--budget={text or ','}"])
    assert code == 2
    assert "--budget" in capsys.readouterr().err
