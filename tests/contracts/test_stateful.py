"""The stateful suite: clean on the sandbox and on a correct tiny API; catches zombies and vanishing records."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from contracts import Keys, Outcome, Target
from contracts import stateful as sf
from contracts.target import SANDBOX_KEYS

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
KEY = SANDBOX_KEYS["full"]


@pytest.mark.live
def test_stateful_passes_on_the_sandbox(live_server: Any) -> None:
    target = Target(f"{live_server.base}/api/v1", SPEC, keys=Keys(**SANDBOX_KEYS), seed=0, max_examples=3)
    results = list(sf.run(target))
    assert [(r.suite, r.name) for r in results] == [("stateful", "state machine")]
    assert results[0].outcome is Outcome.PASSED, [(f.rule, f.message, f.reproduction) for f in results[0].failures]


def test_without_a_full_key_the_suite_is_skipped() -> None:
    results = list(sf.run(Target("http://127.0.0.1:9/api/v1", SPEC, keys=Keys(other="x"))))
    assert [r.outcome for r in results] == [Outcome.SKIPPED]
    assert "full" in results[0].reason


# A tiny API with links (create -> get / delete), and a server that may break it.

_ERROR = {"$ref": "#/components/responses/Error"}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
THINGS_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Things", "version": "1.0.0"},
    "security": [{"bearerAuth": []}],
    "paths": {
        "/things": {
            "post": {
                "operationId": "createThing",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewThing"}}},
                },
                "responses": {
                    "201": {
                        "description": "Created.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/One"}}},
                        "links": {
                            "GetThing": {"operationId": "getThing", "parameters": {"id": "$response.body#/data/id"}},
                            "DeleteThing": {
                                "operationId": "deleteThing",
                                "parameters": {"id": "$response.body#/data/id"},
                            },
                        },
                    },
                    "400": _ERROR,
                    "401": _ERROR,
                },
            }
        },
        "/things/{id}": {
            "get": {
                "operationId": "getThing",
                "parameters": [_ID],
                "responses": {
                    "200": {
                        "description": "The thing.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/One"}}},
                        "links": {
                            "DeleteThing": {
                                "operationId": "deleteThing",
                                "parameters": {"id": "$response.body#/data/id"},
                            }
                        },
                    },
                    "400": _ERROR,
                    "401": _ERROR,
                    "404": _ERROR,
                },
            },
            "delete": {
                "operationId": "deleteThing",
                "parameters": [_ID],
                "responses": {
                    "204": {
                        "description": "Deleted.",
                        "links": {"GetThing": {"operationId": "getThing", "parameters": {"id": "$request.path.id"}}},
                    },
                    "400": _ERROR,
                    "401": _ERROR,
                    "404": _ERROR,
                },
            },
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
            "NewThing": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 20}},
            },
            "Thing": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "One": {
                "type": "object",
                "required": ["data"],
                "properties": {"data": {"$ref": "#/components/schemas/Thing"}},
            },
        },
    },
}


class Things:
    """A correct implementation of THINGS_SPEC, or one with a bug: ``zombie`` keeps deleted things, ``vanish``
    forgets created ones."""

    def __init__(self, bug: str | None = None) -> None:
        self.bug = bug
        self.rows: dict[int, dict[str, Any]] = {}
        self.next_id = 1
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request_id = str(uuid.uuid4())
        with self.lock:
            status, body, headers = self.handle(request)
        if body is not None and status >= 400:
            body["request_id"] = request_id
        response = Response(
            json.dumps(body) if body is not None else None,
            status=status,
            content_type="application/json" if body is not None else None,
            headers={"X-Request-Id": request_id, **headers},
        )
        return response(environ, start_response)

    def handle(self, request: Request) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        path = request.path.removeprefix("/api")
        parts = path.strip("/").split("/")
        allowed = "POST" if len(parts) == 1 else "GET, DELETE"
        if parts[0] != "things" or len(parts) > 2:
            return 404, {"error": "not_found", "message": "No such route."}, {}
        if request.method not in allowed.split(", "):
            return 405, {"error": "method_not_allowed", "message": "Not here."}, {"Allow": allowed}
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return 401, {"error": "unauthorized", "message": "Send a key."}, {}
        if len(parts) == 1:
            return self.create(request)
        if not parts[1].isdigit() or int(parts[1]) < 1:
            return 400, {"error": "bad_request", "message": "id must be a positive integer."}, {}
        thing = int(parts[1])
        if thing not in self.rows:
            return 404, {"error": "not_found", "message": f"No thing {thing}."}, {}
        if request.method == "DELETE":
            if self.bug != "zombie":
                del self.rows[thing]
            return 204, None, {}
        return 200, {"data": self.rows[thing]}, {}

    def create(self, request: Request) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        body = request.get_json(silent=True)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 20 or set(body) != {"name"}:
            return 400, {"error": "bad_request", "message": "Send {name}."}, {}
        row = {"id": self.next_id, "name": name}
        self.next_id += 1
        if self.bug != "vanish":
            self.rows[row["id"]] = row
        return 201, {"data": row}, {}


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a test API and yield its base URL (the app answers under ``/api``)."""
    with serve_wsgi(app) as root:
        yield f"{root}/api"


@pytest.fixture(scope="module")
def things_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = tmp_path_factory.mktemp("spec") / "things.yaml"
    spec.write_text(yaml.safe_dump(THINGS_SPEC), encoding="utf-8")
    return spec


@pytest.fixture(autouse=True)
def one_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of state machines is plenty for a three-operation API (and keeps these tests fast)."""
    monkeypatch.setattr(sf, "ROUNDS", 1)


def run_against(spec: Path, bug: str | None, seed: int = 1) -> Any:
    with serve(Things(bug)) as base_url:
        (result,) = sf.run(Target(base_url, spec, keys=Keys(full=KEY), seed=seed, max_examples=1))
    return result


def test_a_correct_api_passes(things_spec: Path) -> None:
    result = run_against(things_spec, None)
    assert result.outcome is Outcome.PASSED, [(f.rule, f.message) for f in result.failures]


def test_a_deleted_record_that_still_answers_is_use_after_free(things_spec: Path) -> None:
    result = run_against(things_spec, "zombie")
    assert result.outcome is Outcome.FAILED
    assert "stateful.use_after_free" in result.rules
    failure = next(f for f in result.failures if f.rule == "stateful.use_after_free")
    assert failure.reproduction.startswith("curl ")
    assert "curl -X DELETE" in failure.reproduction
    assert "${CONTRACTS_KEY_FULL}" in failure.reproduction
    assert KEY not in failure.reproduction
    assert failure.response.startswith("HTTP 200")


def test_a_created_record_that_vanishes_is_caught(things_spec: Path) -> None:
    result = run_against(things_spec, "vanish")
    assert result.outcome is Outcome.FAILED
    assert "stateful.ensure_resource_availability" in result.rules
    failure = next(f for f in result.failures if f.rule == "stateful.ensure_resource_availability")
    assert failure.reproduction.startswith("curl -X POST")
    assert failure.response.startswith("HTTP 404")
