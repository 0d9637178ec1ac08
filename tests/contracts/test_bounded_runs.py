"""--max-examples bounds what a run sends per operation, in every phase of conformance and in stateful.

Schemathesis's coverage phase enumerates every case a schema defines whatever max-examples says (141,320 for
Xero's POST /CreditNotes), and its stateful phase reruns the state machine after each new failure and shrinks
each one: neither is bounded by max-examples unless the harness bounds it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import yaml
from schemathesis.engine import events
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from contracts import Keys, Outcome, Target, coverage, engine
from contracts import stateful as sf
from contracts.cli import main

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
