"""--operations and --changed-since: a run tests only the operations asked for, or those whose definition changed."""

from __future__ import annotations

import copy
import json
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from contracts import selection, specdiff
from contracts.cli import main

KEY = "sk_test_choice"
ITEM = {"$ref": "#/components/schemas/Item"}
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Choice", "version": "1.0.0"},
    "paths": {
        "/items": {
            "get": {
                "operationId": "listItems",
                "tags": ["Items"],
                "responses": {"200": {"description": "A page.", "content": {"application/json": {"schema": ITEM}}}},
            },
            "post": {
                "operationId": "createItem",
                "tags": ["Items"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ITEM}}},
                "responses": {
                    "201": {
                        "description": "Created.",
                        "content": {"application/json": {"schema": ITEM}},
                        "links": {"Get": {"operationId": "getItem", "parameters": {"id": "$response.body#/id"}}},
                    }
                },
            },
        },
        "/items/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {
                "operationId": "getItem",
                "tags": ["Items"],
                "responses": {"200": {"description": "It.", "content": {"application/json": {"schema": ITEM}}}},
            },
        },
        "/health": {
            "get": {"operationId": "getHealth", "tags": ["health"], "responses": {"200": {"description": "Up."}}}
        },
    },
    "components": {
        "schemas": {
            "Item": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "tag": {"$ref": "#/components/schemas/Tag"}},
            },
            # A recursive schema: a tag has child tags.
            "Tag": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                },
            },
        }
    },
}
EVERY = ["GET /items", "POST /items", "GET /items/{id}", "GET /health"]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    return path


def chosen(spec: Path, *patterns: str, since: str | None = None) -> list[str]:
    choice = selection.choose(spec, list(patterns), since)
    assert choice is not None
    return list(choice.labels)


@pytest.mark.parametrize(
    ("patterns", "labels"),
    [
        (["createItem"], ["POST /items"]),
        (["POST /items"], ["POST /items"]),
        (["get /items/{id}"], ["GET /items/{id}"]),
        (["/items"], ["GET /items", "POST /items"]),
        (["GET /items*"], ["GET /items", "GET /items/{id}"]),
        (["* /items/{id}"], ["GET /items/{id}"]),
        (["GET *"], ["GET /items", "GET /items/{id}", "GET /health"]),
        (["*Item"], ["POST /items", "GET /items/{id}"]),
        (["tag:items"], ["GET /items", "POST /items", "GET /items/{id}"]),
        (["getHealth,createItem"], ["POST /items", "GET /health"]),  # in the spec's order
        (["getHealth", "tag:health"], ["GET /health"]),
    ],
)
def test_patterns_pick_operations(spec: Path, patterns: list[str], labels: list[str]) -> None:
    assert chosen(spec, *patterns) == labels


def test_a_pattern_that_picks_nothing_is_a_usage_error_naming_it(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="'deleteItem' matches no operation"):
        chosen(spec, "createItem", "deleteItem")
    code = main(["run", "--base-url", "http://127.0.0.1:9", "--spec", str(spec), "--operations", "DELETE /items"])
    assert code == 2
    assert "'DELETE /items' matches no operation of the spec" in capsys.readouterr().err


def test_no_pattern_and_no_reference_choose_every_operation(spec: Path) -> None:
    assert selection.choose(spec, [], None) is None


def changed_copy(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(SPEC)
    change(document)
    return document


def test_a_change_deep_under_a_reference_changes_every_operation_that_reaches_it() -> None:
    def deeper(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["Tag"]["properties"]["name"]["maxLength"] = 20

    assert specdiff.changed(SPEC, changed_copy(deeper)) == ["GET /items", "POST /items", "GET /items/{id}"]
    assert specdiff.changed(SPEC, copy.deepcopy(SPEC)) == []


def test_what_counts_as_an_operation_s_definition() -> None:
    def path_parameter(document: dict[str, Any]) -> None:
        document["paths"]["/items/{id}"]["parameters"][0]["schema"]["minimum"] = 1

    def description_only(document: dict[str, Any]) -> None:
        document["paths"]["/health"]["get"]["description"] = "Is it up?"

    def default_security(document: dict[str, Any]) -> None:
        document["security"] = [{"key": []}]
        document["paths"]["/health"]["get"]["security"] = []

    def new_operation(document: dict[str, Any]) -> None:
        document["paths"]["/items/{id}"]["delete"] = {"responses": {"204": {"description": "Gone."}}}

    assert specdiff.changed(SPEC, changed_copy(path_parameter)) == ["GET /items/{id}"]
    assert specdiff.changed(SPEC, changed_copy(description_only)) == ["GET /health"]
    # Every operation without its own security gets the new default; /health declares none of its own.
    assert specdiff.changed(SPEC, changed_copy(default_security)) == EVERY
    assert specdiff.changed(SPEC, changed_copy(new_operation)) == ["DELETE /items/{id}"]
    assert specdiff.removed(changed_copy(new_operation), SPEC) == ["DELETE /items/{id}"]


def test_changed_since_a_git_revision_of_the_spec(spec: Path, tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "spec.yaml")
    git("commit", "-q", "-m", "v1")
    edited = copy.deepcopy(SPEC)
    edited["paths"]["/items"]["post"]["requestBody"]["content"]["application/json"]["schema"] = {"type": "object"}
    spec.write_text(yaml.safe_dump(edited, sort_keys=False), encoding="utf-8")
    assert chosen(spec, since="HEAD") == ["POST /items"]
    assert chosen(spec, "GET *", since="HEAD") == []  # both must hold
    with pytest.raises(ValueError, match="neither a spec file nor a git revision"):
        chosen(spec, since="no-such-branch")


def test_changed_since_an_older_file(spec: Path, tmp_path: Path) -> None:
    older = tmp_path / "older.json"
    document = copy.deepcopy(SPEC)
    del document["paths"]["/health"]
    older.write_text(json.dumps(document), encoding="utf-8")
    choice = selection.choose(spec, [], str(older))
    assert choice is not None
    assert list(choice.labels) == ["GET /health"]
    assert choice.how == f"1 of 4 operations (--changed-since {older})"


def test_a_state_machine_keeps_the_operations_whose_links_lead_to_a_chosen_one(spec: Path) -> None:
    assert selection.with_producers(spec, ["GET /items/{id}"]) == {"GET /items/{id}", "POST /items"}
    assert selection.with_producers(spec, ["GET /health"]) == {"GET /health"}


class Counting:
    """Answers like a plain items API (200, 201 to a POST) and counts the requests by method and path."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.seen[f"{request.method} {request.path}"] += 1
        status = 201 if request.method == "POST" else 200
        return Response(json.dumps({"id": 1}), status=status, content_type="application/json")(environ, start_response)


def test_a_run_sends_requests_only_to_the_chosen_operations(spec: Path, tmp_path: Path) -> None:
    app = Counting()
    report = tmp_path / "report.json"
    with serve_wsgi(app) as base_url:
        args = ["run", "--base-url", base_url, "--spec", str(spec), "--key", f"full={KEY}", "--seed", "1"]
        main(
            [*args, "--suite", "conformance", "--max-examples", "2", "--operations", "getHealth", "--json", str(report)]
        )
    assert app.seen["GET /health"] > 0
    # (Besides /health: the harness's probe of the base URL and Schemathesis's capability probe, no operation.)
    assert not [request for request in app.seen if "/items" in request], app.seen
    body = json.loads(report.read_text(encoding="utf-8"))
    assert [check["name"] for check in body["checks"]] == ["GET /health"]
    assert body["run"]["operations"] == "1 of 4 operations (--operations getHealth)"
