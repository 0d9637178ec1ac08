"""Importing ``contracts`` leaves Schemathesis' process-wide registries alone; a run adds to them only while it runs.

The checks and the fresh ``Idempotency-Key`` hook are in place during a run (a PDF that is not one is caught, every
positive key is fresh), and afterwards the check, deserializer and hook registries are exactly as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core import deserialization
from schemathesis.core.transport import Response as SchemathesisResponse
from schemathesis.engine import events
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from contracts import Keys, Target, engine
from contracts.checks import CHECKS as OUR_CHECKS
from contracts.checks import created_resource_retrievable

ROOT = Path(__file__).resolve().parents[2]
JSON = "application/json"
PDF = b"%PDF-1.7\n%\xe2\xe3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

SNAPSHOT = """
import json, sys
import schemathesis, schemathesis.engine, schemathesis.openapi
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core import deserialization
from schemathesis.core.transport import Response as SchemathesisResponse
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

def snapshot():
    return {
        "checks": sorted(CHECKS.get_all_names()),
        "deserializers": sorted(deserialization._DESERIALIZERS),
        "hooks": {name: len(hooks) for name, hooks in GLOBAL_HOOK_DISPATCHER.get_all().items() if hooks},
    }

load_all_checks()
before = snapshot()
import importlib, pkgutil, contracts
modules = pkgutil.walk_packages(contracts.__path__, "contracts.")
names = [info.name for info in modules if info.name != "contracts.__main__"]  # __main__ runs the CLI
for name in names:
    importlib.import_module(name)
print(json.dumps({"before": before, "after": snapshot(), "modules": len(names)}))
"""


def registries() -> dict[str, Any]:
    """What Schemathesis holds process-wide: checks, deserializers and global hooks (by identity)."""
    return {
        "checks": {name: id(CHECKS.get_one(name)) for name in CHECKS.get_all_names()},
        "deserializers": {media: id(function) for media, function in deserialization._DESERIALIZERS.items()},
        "hooks": {
            name: [id(hook) for hook in hooks] for name, hooks in GLOBAL_HOOK_DISPATCHER.get_all().items() if hooks
        },
    }


def test_importing_every_module_of_contracts_registers_nothing_with_schemathesis() -> None:
    found = subprocess.run(  # a fresh interpreter: this one has imported contracts already
        [sys.executable, "-c", SNAPSHOT], capture_output=True, text=True, check=True, cwd=ROOT
    )
    seen = json.loads(found.stdout)
    assert seen["modules"] > 50  # every submodule was imported, not only the package
    assert seen["after"] == seen["before"]


def spec(path: Path) -> Path:
    """A two-operation API: a create that takes an ``Idempotency-Key``, and a report served as a PDF."""
    note = {"type": "object", "required": ["id", "title"], "properties": {"id": {"type": "integer"}, "title": {}}}
    document = {
        "openapi": "3.0.3",
        "info": {"title": "Notes", "version": "1"},
        "paths": {
            "/notes": {
                "post": {
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["title"],
                                    "properties": {"title": {"type": "string"}},
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {"description": "Created.", "content": {JSON: {"schema": note}}},
                        "400": {"description": "Not a note."},
                    },
                }
            },
            "/report": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "The report.",
                            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                        }
                    }
                }
            },
        },
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


class NotesApp:
    """The notes API; ``broken_pdf``: the report is HTML labelled as a PDF. ``keys``: every Idempotency-Key received."""

    def __init__(self, *, broken_pdf: bool = False) -> None:
        self.broken_pdf = broken_pdf
        self.keys: list[str] = []
        self.routes = Map(
            [Rule("/notes", endpoint="create", methods=["POST"]), Rule("/report", endpoint="report", methods=["GET"])]
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, _ = self.routes.bind_to_environ(environ).match()
        except HTTPException as exc:
            return exc(environ, start_response)
        return self.answer(endpoint, request)(environ, start_response)

    def answer(self, endpoint: str, request: Request) -> Response:
        """The note created (or 400), or the report."""
        if endpoint == "report":
            body = b"<html>report</html>" if self.broken_pdf else PDF
            return Response(body, content_type="application/pdf")
        if "Idempotency-Key" in request.headers:
            self.keys.append(request.headers["Idempotency-Key"])
        sent = request.get_json(silent=True)
        if not isinstance(sent, dict) or set(sent) != {"title"} or not isinstance(sent["title"], str):
            return Response(status=400)
        return Response(json.dumps({"id": len(self.keys), "title": sent["title"]}), 201, content_type=JSON)


def run_conformance(app: NotesApp, spec_path: Path, seen: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Run the conformance engine on ``app``, noting the registries during the run; the rules each operation broke."""

    def observe(event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished) and not seen:
            seen.append(registries())

    with serve_wsgi(app) as root:
        target = Target(root, spec_path, keys=Keys(full="unused"), seed=3, max_examples=10)
        config = engine.build_config(target, phases=engine.fuzzing_phases(), max_examples=target.max_examples)
        results = engine.Run(target, "conformance", engine.load(target, config), observer=observe).execute()
    return {result.name: {failure.rule for failure in result.failures} for result in results}


@pytest.fixture
def notes_spec(tmp_path: Path) -> Path:
    load_all_checks()  # Schemathesis' own checks register lazily: load them before taking the "before" picture
    return spec(tmp_path / "notes.json")


def test_a_run_registers_its_checks_and_hook_only_while_it_runs(notes_spec: Path) -> None:
    before = registries()
    during: list[dict[str, Any]] = []
    app = NotesApp()
    broken = run_conformance(app, notes_spec, during)
    assert registries() == before
    ours = [check.__name__ for check in OUR_CHECKS]
    assert list(during[0]["checks"]) == [*before["checks"], *ours]  # after Schemathesis' own, in one order
    assert len(during[0]["hooks"]["before_call"]) == len(before["hooks"].get("before_call", [])) + 1
    assert not any(broken.values()), broken
    fresh = [key for key in app.keys if key.startswith("contracts-")]
    assert fresh  # positive keys were replaced ...
    assert len(set(fresh)) == len(fresh)  # ... each by a value of its own


def test_a_pdf_that_is_not_one_is_caught_by_its_rule_alone(notes_spec: Path) -> None:
    broken = run_conformance(NotesApp(broken_pdf=True), notes_spec, [])
    assert broken["GET /report"] == {"conformance.body_matches_content_type"}
    assert not broken["POST /notes"]


def test_a_check_someone_else_registered_stays_after_a_run(notes_spec: Path) -> None:
    mine = OUR_CHECKS[0]
    schemathesis.check(mine)  # e.g. a user who runs our checks in their own Schemathesis tests
    try:
        before = registries()
        run_conformance(NotesApp(), notes_spec, [])
        assert registries() == before
        assert CHECKS.get_one(mine.__name__) is mine
    finally:
        CHECKS.unregister(mine.__name__)


def answered(body: dict[str, Any], prefer: str | None) -> SchemathesisResponse:
    """A Schemathesis 201 with a JSON ``body`` to a POST that sent ``Prefer: prefer`` (if any)."""
    headers = {"Prefer": prefer} if prefer else {}
    sent = requests.Request("POST", "http://127.0.0.1:9/notes", headers=headers, json={"title": "t"}).prepare()
    content = json.dumps(body).encode()
    return SchemathesisResponse(201, {"Content-Type": [JSON]}, content, sent, elapsed=0.0, verify=True)


@pytest.mark.parametrize("prefer", ["dynamic", "dynamic=true", "code=201", "return=minimal, example=created"])
def test_a_create_answered_from_the_spec_is_not_read_back(prefer: str, tmp_path: Path) -> None:
    item = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ok = {"200": {"description": "Done."}}
    document = {
        "openapi": "3.0.3",
        "info": {"title": "Notes", "version": "1"},
        "paths": {
            "/notes": {"post": {"responses": ok}},
            "/notes/{id}": {"get": {"parameters": [item], "responses": ok}},
        },
    }
    path = tmp_path / "notes.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    created = {"data": {"id": 7}}
    with serve_wsgi(Response("no such note", 404)) as root:  # the mock answer stored nothing
        target = Target(root, path, keys=Keys(full="unused"))
        config = engine.build_config(target, phases=engine.fuzzing_phases(), max_examples=1)
        case = engine.load(target, config)["/notes"]["POST"].Case()
        assert created_resource_retrievable(None, answered(created, prefer), case) is True  # type: ignore[arg-type]
        with pytest.raises(AssertionError, match="GET /notes/7 answered 404"):  # a real create is read back
            created_resource_retrievable(None, answered(created, "return=minimal"), case)  # type: ignore[arg-type]
