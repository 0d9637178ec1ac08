"""The security suite on specs shaped like real third-party APIs: it finds and creates records the way each spec says.

Xero creates with ``PUT /Things`` in a list wrapper and names ids ``{ThingID}``; Stripe takes urlencoded forms
under ``/v1``; Docker creates with ``POST /widgets/create`` and answers ``{"Id": ...}``. Each spec is served by the
sandbox on a free port of 127.0.0.1 for the test's duration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faulty import Middleware, serve_spec, write_spec
from werkzeug.wrappers import Request, Response

from contracts import Keys, Outcome, Report, Target, run
from contracts import security as sec
from contracts.report import failures_text
from contracts.security.wire import form_pairs
from contracts.target import SANDBOX_KEYS

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
RAN = ("security/bola", "security/scopes", "security/read_only")


def ok(schema: dict[str, Any], status: str = "200", media: str = JSON) -> dict[str, Any]:
    """A responses object with one documented success and the usual refusals."""
    return {
        status: {"description": "Done.", "content": {media: {"schema": schema}}},
        "400": {"description": "Invalid."},
        "401": {"description": "No key."},
        "403": {"description": "Not allowed."},
        "404": {"description": "No such record."},
    }


def body(schema: dict[str, Any], media: str = JSON) -> dict[str, Any]:
    return {"required": True, "content": {media: {"schema": schema}}}


def document(paths: dict[str, Any], schemas: dict[str, Any], base: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Foreign", "version": "1"},
        "servers": [{"url": base}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
        "paths": paths,
    }


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def xero_like() -> dict[str, Any]:
    """PUT creates in a list wrapper; ids are uuids named by the item path's ``{ThingID}``."""
    thing = {
        "type": "object",
        "properties": {
            "ThingID": {"type": "string", "format": "uuid", "readOnly": True},
            "Name": {"type": "string", "maxLength": 100},
            "Revision": {"type": "integer", "readOnly": True},
        },
    }
    things = {"type": "object", "properties": {"Things": {"type": "array", "items": ref("Thing")}}}
    item_param = {"name": "ThingID", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    paths = {
        "/Things": {
            "get": {"operationId": "getThings", "responses": ok(ref("Things"))},
            "put": {"operationId": "createThings", "requestBody": body(ref("Things")), "responses": ok(ref("Things"))},
            "post": {"operationId": "deleteThings", "requestBody": body(ref("Things")), "responses": ok(ref("Things"))},
        },
        "/Things/{ThingID}": {
            "parameters": [item_param],
            "get": {"operationId": "getThing", "responses": ok(ref("Things"))},
            "post": {"operationId": "updateThing", "requestBody": body(ref("Things")), "responses": ok(ref("Things"))},
        },
    }
    return document(paths, {"Thing": thing, "Things": things}, "/api.xro/2.0")


def stripe_like() -> dict[str, Any]:
    """Form-encoded creates under ``/v1``, a nested object sent as ``address[city]``, ids named by ``{widget}``."""
    widget = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "readOnly": True},
            "name": {"type": "string", "maxLength": 200},
            "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 100}}},
        },
    }
    create = {
        "type": "object",
        "required": ["name", "address"],
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "address": {
                "type": "object",
                "required": ["city"],
                "properties": {"city": {"type": "string", "maxLength": 100}},
            },
        },
    }
    listing = {
        "type": "object",
        "properties": {"object": {"type": "string"}, "data": {"type": "array", "items": ref("Widget")}},
    }
    param = {"name": "widget", "in": "path", "required": True, "schema": {"type": "string"}}
    paths = {
        "/v1/widgets": {
            "get": {"operationId": "GetWidgets", "responses": ok(listing)},
            "post": {"operationId": "PostWidgets", "requestBody": body(create, FORM), "responses": ok(ref("Widget"))},
        },
        "/v1/widgets/{widget}": {
            "parameters": [param],
            "get": {"operationId": "GetWidgetsWidget", "responses": ok(ref("Widget"))},
            "delete": {"operationId": "DeleteWidgetsWidget", "responses": ok(ref("Widget"))},
        },
    }
    return document(paths, {"Widget": widget}, "/")


def docker_like() -> dict[str, Any]:
    """Creates on ``POST /widgets/create`` answering ``{"Id": ...}``; the record reads back with ``Id`` too."""
    widget = {
        "type": "object",
        "properties": {"Id": {"type": "string", "readOnly": True}, "Name": {"type": "string", "maxLength": 64}},
    }
    created = {
        "type": "object",
        "required": ["Id"],
        "properties": {"Id": {"type": "string"}, "Warnings": {"type": "array", "items": {"type": "string"}}},
    }
    create = {"type": "object", "properties": {"Name": {"type": "string", "maxLength": 64}}}
    param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths = {
        "/widgets/json": {
            "get": {"operationId": "WidgetList", "responses": ok({"type": "array", "items": ref("Widget")})}
        },
        "/widgets/create": {
            "post": {"operationId": "WidgetCreate", "requestBody": body(create), "responses": ok(created, "201")}
        },
        "/widgets/{id}": {
            "parameters": [param],
            "get": {"operationId": "WidgetInspect", "responses": ok(ref("Widget"))},
            "delete": {"operationId": "WidgetDelete", "responses": {"204": {"description": "Gone."}}},
        },
    }
    return document(paths, {"Widget": widget}, "/v1.0")


def with_notes() -> dict[str, Any]:
    """Plain ``POST /things`` records (which the suite always could create) with notes added under each thing."""
    thing = {
        "type": "object",
        "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string", "maxLength": 100}},
    }
    note = {"type": "object", "properties": {"id": {"type": "integer", "readOnly": True}, "text": {"type": "string"}}}
    param = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    paths = {
        "/things": {
            "get": {"operationId": "listThings", "responses": ok({"type": "array", "items": ref("Thing")})},
            "post": {
                "operationId": "createThing",
                "requestBody": body(ref("Thing")),
                "responses": ok(ref("Thing"), "201"),
            },
        },
        "/things/{id}": {"parameters": [param], "get": {"operationId": "getThing", "responses": ok(ref("Thing"))}},
        "/things/{id}/notes": {
            "parameters": [param],
            "post": {
                "operationId": "createThingNote",
                "requestBody": body(ref("Note")),
                "responses": ok(ref("Note"), "201"),
            },
        },
    }
    return document(paths, {"Thing": thing, "Note": note}, "/api")


def security_run(root: str, base: str, path: Path) -> Report:
    return run(Target(root + base, path, keys=Keys(**SANDBOX_KEYS), suites=("security",), seed=1))


def outcomes(report: Report) -> dict[str, Outcome]:
    return {check.name: check.outcome for check in report.checks}


# --- read from the spec ---------------------------------------------------------------------------------


def test_a_put_create_in_a_list_wrapper_with_thing_ids_is_found(tmp_path: Path) -> None:
    resources = sec.find_resources(sec.Spec.load(write_spec(tmp_path, xero_like())))
    things = resources["/Things"]
    assert things.create is not None
    assert (things.create.method, things.create.operation_id) == ("PUT", "createThings")  # not deleteThings
    assert things.item == "/Things/{ThingID}"
    assert things.id_field == "ThingID"
    assert set(things.create_schema["properties"]) == {"ThingID", "Name", "Revision"}
    assert things.wrap(things.create, {"Name": "x"}) == {"Things": [{"Name": "x"}]}
    assert things.id_of(things.record_of(things.create, {"Things": [{"ThingID": "u-1"}]})) == "u-1"


def test_a_create_path_under_the_collection_is_its_create(tmp_path: Path) -> None:
    resources = sec.find_resources(sec.Spec.load(write_spec(tmp_path, docker_like())))
    widgets = resources["/widgets"]
    assert widgets.create is not None
    assert widgets.create.path == "/widgets/create"
    assert widgets.id_field == "Id"
    assert resources["/widgets/create"].create is None  # one create, not a second resource of its own


def test_a_form_body_is_sent_with_deep_object_keys() -> None:
    pairs = form_pairs({"name": "n", "address": {"city": "Paris"}, "items": [{"price": 5}], "live": False, "x": None})
    assert pairs == [("name", "n"), ("address[city]", "Paris"), ("items[0][price]", "5"), ("live", "false")]


def test_ids_follow_the_item_path_parameter() -> None:
    assert sec.identity.id_field({"AccountID": {}, "Name": {}}, "AccountID", "Accounts") == "AccountID"
    assert sec.identity.id_field({"id": {}, "code": {}}, "account_id", "accounts") == "id"
    assert sec.identity.id_field({"id": {}}, "customer", "customers") == "id"
    assert sec.identity.id_field({"Id": {}}, "id", "containers") == "Id"
    assert sec.identity.id_field({"id": {}, "number": {}}, "number", "orders") == "number"
    assert sec.identity.id_field({"key": {"x-sandbox-id": True}, "id": {}}, "k", "things") == "key"
    assert sec.identity.id_field({"uid": {"type": "string", "readOnly": True}, "name": {}}, None, "things") == "uid"


# --- against the sandbox --------------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.parametrize(
    ("shape", "base"),
    [(xero_like, "/api.xro/2.0"), (stripe_like, ""), (docker_like, "/v1.0")],
    ids=["put-create-list-wrapper", "form-encoded", "create-path"],
)
def test_records_are_created_and_every_record_check_runs(
    shape: Callable[[], dict[str, Any]], base: str, tmp_path: Path
) -> None:
    path = write_spec(tmp_path, shape())
    with serve_spec(path) as root:
        report = security_run(root, base, path)
    result = outcomes(report)
    assert report.ok, failures_text(report)
    assert {name: result[name] for name in RAN} == dict.fromkeys(RAN, Outcome.PASSED)


@pytest.mark.live
def test_a_nested_form_field_arrives_as_an_object(tmp_path: Path) -> None:
    path = write_spec(tmp_path, stripe_like())
    with serve_spec(path) as root:
        ctx = sec.Context(Target(root, path, keys=Keys(**SANDBOX_KEYS), suites=("security",), seed=1))
        made = ctx.setup()
        record = made[0].response
        ctx.cleanup()
    assert made[0].resource.collection == "/v1/widgets"
    assert record["address"] == made[0].body["address"]
    assert str(made[0].body["address"]["city"]).startswith("Contract")


class EchoNotes(Middleware):
    """Another company's POST of a note under any thing is answered 201 with what it sent (or with ``answer``)."""

    def __init__(self, app: Any, answer: Callable[[Middleware, Request, Any], Any] | None = None) -> None:
        super().__init__(app)
        self.answer = answer

    def handle(self, request: Request, environ: Any) -> Response:
        other = request.headers.get("Authorization") == f"Bearer {SANDBOX_KEYS['other']}"
        if not (other and request.method == "POST" and request.path.endswith("/notes")):
            return self.forward(environ)
        sent = json.loads(Request(environ).get_data() or b"null")
        shown = self.answer(self, request, sent) if self.answer else sent
        return Response(json.dumps(shown), status=201, mimetype=JSON)


def our_thing(middleware: Middleware, request: Request, sent: Any) -> Any:
    """The thing the note is under, as its owner reads it (a real leak)."""
    item = request.path.rsplit("/", 1)[0]
    environ = {**request.environ, "REQUEST_METHOD": "GET", "PATH_INFO": item, "CONTENT_LENGTH": "0"}
    environ["HTTP_AUTHORIZATION"] = f"Bearer {SANDBOX_KEYS['full']}"
    return json.loads(middleware.forward(environ).get_data())


@pytest.mark.live
@pytest.mark.parametrize(("answer", "leak"), [(None, False), (our_thing, True)], ids=["echo", "our-record"])
def test_showed_our_record_is_said_only_when_it_was(
    answer: Callable[[Middleware, Request, Any], Any] | None, leak: bool, tmp_path: Path
) -> None:
    """Recurly's echo of the other company's own body (carrying the run's marker) was called 'showed our record'."""
    path = write_spec(tmp_path, with_notes())
    with serve_spec(path, lambda app: EchoNotes(app, answer)) as root:
        report = security_run(root, "/api", path)
    failures = [f.message for check in report.checks for f in check.failures if f.rule == "security.bola.actions"]
    assert len(failures) == 1, failures
    assert "createThingNote on another company's things" in failures[0]
    assert "answered 201" in failures[0]
    assert ("and showed our record" in failures[0]) is leak


@pytest.mark.live
def test_a_create_that_fails_is_named_with_its_answer_in_the_skip_reason(tmp_path: Path) -> None:
    spec = xero_like()
    thing = spec["components"]["schemas"]["Thing"]
    thing["required"] = ["Code"]
    thing["properties"]["Code"] = {"type": "string", "pattern": "^never$", "maxLength": 5}
    path = write_spec(tmp_path, spec)
    with serve_spec(path) as root:
        report = security_run(root, "/api.xro/2.0", path)
    bola = next(check for check in report.checks if check.name == "security/bola")
    assert bola.outcome is Outcome.SKIPPED
    assert bola.reason.startswith("no record could be created with the full key: PUT /Things answered 400 (")
    assert "Code" in bola.reason


@pytest.mark.live
def test_a_refusal_a_missing_record_gets_too_is_no_finding(tmp_path: Path) -> None:
    """Xero's attachment uploads need a file body the suite cannot send: 400 whatever the record, never a leak."""
    spec = xero_like()
    spec["paths"]["/Things/{ThingID}/Attachments/{FileName}"] = {
        "parameters": [
            *spec["paths"]["/Things/{ThingID}"]["parameters"],
            {"name": "FileName", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
        "put": {
            "operationId": "createThingAttachment",
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": ok(ref("Things")),
        },
    }
    path = write_spec(tmp_path, spec)
    with serve_spec(path) as root:
        report = security_run(root, "/api.xro/2.0", path)
    bola = next(check for check in report.checks if check.name == "security/bola")
    assert bola.outcome is Outcome.PASSED, failures_text(report)
    assert "createThingAttachment (400 for a missing record too)" in bola.reason
