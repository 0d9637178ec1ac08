"""The conformance suite: clean on the sandbox, deterministic per seed, and it names what a broken server breaks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_constants import another_local_module
from schemathesis.engine import events
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from contracts import Keys, Outcome, Target, engine, spec_document
from contracts import conformance as conf
from contracts.target import SANDBOX_KEYS

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
KEY = SANDBOX_KEYS["full"]


def sandbox_target(live_server: Any, *, seed: int = 0, max_examples: int = 5) -> Target:
    return Target(f"{live_server.base}/api/v1", SPEC, keys=Keys(**SANDBOX_KEYS), seed=seed, max_examples=max_examples)


@pytest.mark.live
def test_conformance_passes_on_the_sandbox(live_server: Any) -> None:
    results = list(conf.run(sandbox_target(live_server)))
    failed = {r.name: [(f.rule, f.message[:200]) for f in r.failures] for r in results if r.outcome is Outcome.FAILED}
    assert not failed, json.dumps(failed, indent=1)
    assert len(results) == len(spec_operations())  # one check per operation of the spec
    assert {r.suite for r in results} == {"conformance"}
    assert "POST /invoices" in {r.name for r in results}
    assert results[0].name == "GET /health"  # in the spec's order
    assert all(r.outcome is Outcome.PASSED for r in results)


def spec_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation under the spec's paths."""
    paths = spec_document.read(SPEC)["paths"]
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return [(method, path) for path, item in paths.items() for method in item if method in methods]


def _generated_requests(target: Target, path_regex: str) -> list[tuple[str, str, str, bytes | None]]:
    """Every request the engine generated (not the checks' follow-ups) for the operations under ``path_regex``."""
    sent: list[tuple[str, str, str, bytes | None]] = []

    def observe(event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished):
            for case_id, node in event.recorder.cases.items():
                interaction = event.recorder.interactions.get(case_id)
                if node.parent_id is None and interaction is not None:
                    request = interaction.request
                    sent.append((event.phase.value, request.method, request.uri, request.body))

    config = engine.build_config(target, phases=engine.fuzzing_phases(), max_examples=target.max_examples)
    schema = engine.load(target, config).include(path_regex=path_regex)
    results = engine.Run(target, "conformance", schema, observer=observe).execute()
    assert all(r.outcome is Outcome.PASSED for r in results), [r.failures for r in results]
    return sent


@pytest.mark.live
def test_the_same_seed_sends_the_same_requests(live_server: Any, tmp_path: Path) -> None:
    """The requests follow the seed and the spec alone: the second run has one more local module loaded."""
    target = sandbox_target(live_server, seed=7, max_examples=5)
    first = _generated_requests(target, "^/customers$")
    with another_local_module(tmp_path):  # whose constants Hypothesis would draw from (contracts.generation)
        second = _generated_requests(target, "^/customers$")
    assert {(phase, method) for phase, method, _, _ in first} >= {("fuzzing", "POST"), ("fuzzing", "GET")}
    assert first == second
    other = _generated_requests(sandbox_target(live_server, seed=8, max_examples=5), "^/customers$")
    assert [r for r in other if r[0] == "fuzzing"] != [r for r in first if r[0] == "fuzzing"]


def test_without_a_full_key_the_suite_is_skipped() -> None:
    results = list(conf.run(Target("http://127.0.0.1:9/api/v1", SPEC, keys=Keys(readonly="x"))))
    assert [r.outcome for r in results] == [Outcome.SKIPPED]
    assert "full" in results[0].reason


def test_an_unreachable_target_is_an_error_at_once_not_a_breach() -> None:
    results = list(conf.run(Target("http://127.0.0.1:9/api/v1", SPEC, keys=Keys(full=KEY))))
    assert [(r.name, r.outcome, r.rules) for r in results] == [("target", Outcome.ERROR, ["conformance.error"])]
    assert "Cannot reach http://127.0.0.1:9/api/v1" in results[0].failures[0].message
    assert "could not connect" in results[0].failures[0].message


def test_a_spec_that_does_not_load_is_an_error_of_the_suite(tmp_path: Path) -> None:
    with serve(broken_widgets) as base_url:
        results = list(conf.run(Target(base_url, tmp_path / "missing.yaml", keys=Keys(full=KEY))))
    assert [(r.name, r.outcome, r.rules) for r in results] == [("spec", Outcome.ERROR, ["conformance.error"])]


# A tiny API and a server that breaks it in one way per operation.

_ERROR = {"$ref": "#/components/responses/Error"}
WIDGETS_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Widgets", "version": "1.0.0"},
    "security": [{"bearerAuth": []}],
    "paths": {
        "/widgets": {
            "get": {
                "operationId": "listWidgets",
                "parameters": [
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                ],
                "responses": {
                    "200": {
                        "description": "A page.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}},
                    },
                    "400": _ERROR,
                    "401": _ERROR,
                },
            },
            "post": {
                "operationId": "createWidget",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewWidget"}}},
                },
                "responses": {
                    "201": {
                        "description": "Created.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/One"}}},
                    },
                    "400": _ERROR,
                    "401": _ERROR,
                },
            },
        },
        "/widgets/{id}": {
            "get": {
                "operationId": "getWidget",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                        "example": 1,
                    }
                ],
                "responses": {
                    "200": {
                        "description": "One widget.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/One"}}},
                    },
                    "400": _ERROR,
                    "401": _ERROR,
                    "404": _ERROR,
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "Error": {
                "description": "An error.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message", "request_id"],
                "properties": {
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                    "request_id": {"type": "string"},
                },
            },
            "Widget": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "NewWidget": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {"name": {"type": "string", "minLength": 1}},
            },
            "One": {
                "type": "object",
                "required": ["data"],
                "properties": {"data": {"$ref": "#/components/schemas/Widget"}},
            },
            "Page": {
                "type": "object",
                "required": ["data", "meta", "links"],
                "properties": {
                    "data": {"type": "array", "items": {"$ref": "#/components/schemas/Widget"}},
                    "meta": {"type": "object"},
                    "links": {"type": "object"},
                },
            },
        },
    },
}


def _json(status: int, body: Any, **headers: str) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)


def broken_widgets(environ: dict[str, Any], start_response: Any) -> Any:
    """GET /widgets: wrong meta and no 400; POST: ids that GET cannot find; GET /widgets/1: a string id."""
    request = Request(environ)
    path = request.path.removeprefix("/api")
    if request.headers.get("Authorization") != f"Bearer {KEY}":
        response = _json(
            401, {"error": "unauthorized", "message": "No key.", "request_id": "r1"}, **{"X-Request-Id": "r1"}
        )
    elif path == "/widgets" and request.method == "GET":
        rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
        meta = {"current_page": 1, "from": 1, "to": 2, "last_page": 1, "per_page": 10, "total": 5}
        response = _json(200, {"data": rows, "meta": meta, "links": {"prev": None, "next": None}})
    elif path == "/widgets" and request.method == "POST":
        response = _json(201, {"data": {"id": 77, "name": "new"}})
    elif path == "/widgets/1" and request.method == "GET":
        response = _json(200, {"data": {"id": "one", "name": "a"}})
    elif path.startswith("/widgets/") and request.method == "GET":
        response = _json(404, {"error": "not_found", "message": "Nope.", "request_id": "r2"}, **{"X-Request-Id": "r3"})
    else:
        response = _json(405, {"error": "method_not_allowed", "message": "No.", "request_id": "r4"})
    return response(environ, start_response)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a test API and yield its base URL (the app answers under ``/api``)."""
    with serve_wsgi(app) as root:
        yield f"{root}/api"


@pytest.fixture(scope="module")
def broken_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spec = tmp_path_factory.mktemp("spec") / "widgets.yaml"
    spec.write_text(yaml.safe_dump(WIDGETS_SPEC), encoding="utf-8")
    with serve(broken_widgets) as base_url:
        target = Target(base_url, spec, keys=Keys(full=KEY), seed=3, max_examples=5)
        return {result.name: result for result in conf.run(target)}


def test_a_broken_server_fails_with_the_rules_it_breaks(broken_results: dict[str, Any]) -> None:
    assert set(broken_results) == {"GET /widgets", "POST /widgets", "GET /widgets/{id}"}
    assert all(r.outcome is Outcome.FAILED for r in broken_results.values())
    rules = {name: set(result.rules) for name, result in broken_results.items()}
    assert {"conformance.pagination_consistency", "conformance.negative_data_rejection"} <= rules["GET /widgets"]
    assert "conformance.created_resource_retrievable" in rules["POST /widgets"]
    assert {"conformance.response_schema_conformance", "conformance.error_shape"} <= rules["GET /widgets/{id}"]


def test_failures_carry_a_redacted_curl_reproduction_and_the_response(broken_results: dict[str, Any]) -> None:
    failure = next(
        f for f in broken_results["GET /widgets/{id}"].failures if f.rule.endswith("response_schema_conformance")
    )
    assert failure.reproduction.startswith("curl ")
    assert '"Authorization: Bearer ${CONTRACTS_KEY_FULL}"' in failure.reproduction
    assert KEY not in failure.reproduction + failure.message + failure.response
    assert "/widgets/1" in failure.reproduction
    assert failure.response.startswith("HTTP 200")
    assert '"one"' in failure.response
    shape = next(f for f in broken_results["GET /widgets/{id}"].failures if f.rule == "conformance.error_shape")
    assert "X-Request-Id" in shape.message
    created = next(
        f for f in broken_results["POST /widgets"].failures if f.rule.endswith("created_resource_retrievable")
    )
    assert "77" in created.message
    assert created.reproduction.startswith("curl -X POST")
