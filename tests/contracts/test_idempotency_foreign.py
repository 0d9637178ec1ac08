"""The idempotency suite on a spec shaped like Xero's: requests go as the spec describes them, keys as it names them.

The spec creates with ``PUT /Things`` in a list wrapper (``{"Things": [...]}``), requires a ``thing-tenant-id``
header on every operation, and documents ``Idempotency-Key`` on the create only. The sandbox serving it passes
every check; the same sandbox behind a layer that drops the key (so every retry creates again) is caught.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from faulty import Middleware, serve_spec, write_spec
from werkzeug.wrappers import Request, Response

from contracts import Keys, Outcome, Report, Target, run
from contracts import idempotency as idem
from contracts.idempotency.session import keyed
from contracts.idempotency.spec import idempotent_operations, key_header, refusal_statuses, subjects
from contracts.report import failures_text
from contracts.security.fixtures import Context
from contracts.security.resources import find_resources
from contracts.security.spec_view import Spec
from contracts.target import SANDBOX_KEYS

JSON = "application/json"
BASE = "/api.xro/2.0"
TENANT = {"name": "thing-tenant-id", "in": "header", "required": True, "schema": {"type": "string"}}
KEY = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}
CHECKS = ("idempotency/replay", "idempotency/mismatch", "idempotency/concurrency", "idempotency/per company")


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def answers(schema: dict[str, Any], replayed: bool = False) -> dict[str, Any]:
    """200 with ``schema`` (documenting ``Idempotent-Replayed`` if ``replayed``), 400 and the usual refusals."""
    success: dict[str, Any] = {"description": "Done.", "content": {JSON: {"schema": schema}}}
    if replayed:
        success["headers"] = {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}}
    refusals = {status: {"description": "Refused."} for status in ("400", "401", "403", "404")}
    return {"200": success, **refusals}


def xero_like(key: dict[str, Any] | None = KEY) -> dict[str, Any]:
    """PUT creates in a list wrapper with a required tenant header; ``key`` (if any) is the create's key header."""
    thing = {
        "type": "object",
        "properties": {
            "ThingID": {"type": "string", "format": "uuid", "readOnly": True},
            "Name": {"type": "string", "maxLength": 100},
        },
    }
    things = {"type": "object", "properties": {"Things": {"type": "array", "items": ref("Thing")}}}
    item = {"name": "ThingID", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    create: dict[str, Any] = {
        "operationId": "createThings",
        "parameters": [key] if key else [],
        "requestBody": {"required": True, "content": {JSON: {"schema": ref("Things")}}},
        "responses": answers(ref("Things"), replayed=True),
    }
    paths = {
        "/Things": {
            "parameters": [TENANT],
            "get": {"operationId": "getThings", "responses": answers(ref("Things"))},
            "put": create,
        },
        "/Things/{ThingID}": {
            "parameters": [TENANT, item],
            "get": {"operationId": "getThing", "responses": answers(ref("Things"))},
            "delete": {"operationId": "deleteThing", "responses": {"204": {"description": "Gone."}}},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Xero-like", "version": "1"},
        "servers": [{"url": BASE}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Thing": thing, "Things": things},
        },
        "paths": paths,
    }


def target(root: str, path: Path) -> Target:
    return Target(root + BASE, path, keys=Keys(**SANDBOX_KEYS), suites=("idempotency",), seed=1)


class IgnoreKey(Middleware):
    """Idempotency keys are ignored: every request runs, so a retry creates a second record."""

    def handle(self, request: Request, environ: Any) -> Response:
        return self.forward({k: v for k, v in environ.items() if k != "HTTP_IDEMPOTENCY_KEY"})


def outcomes(report: Report) -> dict[str, Outcome]:
    return {check.name: check.outcome for check in report.checks}


# --- read from the spec ---------------------------------------------------------------------------------


def test_the_key_header_is_found_whatever_the_spec_calls_it() -> None:
    for name in ("Idempotency-Key", "idempotency_key", "X-Idempotency-Key", "IdempotencyKey"):
        spec = Spec(xero_like({**KEY, "name": name}))
        [op] = idempotent_operations(spec)
        assert (op.method, op.path, key_header(op)) == ("PUT", "/Things", name)
    assert idempotent_operations(Spec(xero_like({**KEY, "name": "X-Idempotency-Token"}))) == []


def test_the_key_goes_with_the_required_headers_under_the_spec_s_name(tmp_path: Path) -> None:
    path = write_spec(tmp_path, xero_like({**KEY, "name": "X-Idempotency-Key"}))
    ctx = Context(target("http://127.0.0.1:9", path))
    [subject] = subjects(ctx.resources)
    op = keyed(subject.op, subject.header, "k-1")
    headers = ctx.required_headers(op)
    assert headers["X-Idempotency-Key"] == "k-1"
    assert "thing-tenant-id" in headers
    assert subject.resource.wrap(op, {"Name": "n"}) == {"Things": [{"Name": "n"}]}
    assert refusal_statuses(subject.op) == (422, 400)  # it documents 400 and no 422


def test_a_spec_without_the_header_skips_without_a_request(tmp_path: Path) -> None:
    chosen = target("http://127.0.0.1:9", write_spec(tmp_path, xero_like(None)))
    [check] = list(idem.run(chosen))
    assert check.outcome is Outcome.SKIPPED
    assert check.reason.startswith("the spec documents no Idempotency-Key header parameter")
    assert "on any of its 1 POST, PUT or PATCH operations" in check.reason
    assert chosen.meter.counts().made == 0


def test_a_key_on_no_create_skips_naming_the_operations_that_take_it(tmp_path: Path) -> None:
    spec = xero_like(None)
    spec["paths"]["/Things/{ThingID}"]["post"] = {
        "operationId": "updateThing",
        "parameters": [KEY],
        "requestBody": {"required": True, "content": {JSON: {"schema": ref("Things")}}},
        "responses": answers(ref("Things")),
    }
    chosen = target("http://127.0.0.1:9", write_spec(tmp_path, spec))
    [check] = list(idem.run(chosen))
    assert check.outcome is Outcome.SKIPPED
    assert check.reason.startswith("no collection's create (")
    assert check.reason.endswith("the operations that do: POST /Things/{ThingID}")
    assert chosen.meter.counts().made == 0
    assert find_resources(Spec.load(chosen.spec_path))["/Things"].create is not None  # a create, without the key


# --- against the sandbox --------------------------------------------------------------------------------


@pytest.mark.live
def test_the_sandbox_passes_every_check(tmp_path: Path) -> None:
    path = write_spec(tmp_path, xero_like())
    with serve_spec(path) as root:
        report = run(target(root, path))
    assert report.ok, failures_text(report)
    assert outcomes(report) == dict.fromkeys(CHECKS, Outcome.PASSED)
    reasons = {check.name: check.reason for check in report.checks}
    assert reasons["idempotency/replay"] == "1 create operation(s) checked"
    assert reasons["idempotency/concurrency"].startswith("5 requests on PUT /Things answered ")


@pytest.mark.live
def test_a_target_that_ignores_the_key_is_caught(tmp_path: Path) -> None:
    path = write_spec(tmp_path, xero_like())
    with serve_spec(path, IgnoreKey) as root:
        report = run(target(root, path))
    assert report.broken_rules() == {idem.REPLAY, idem.REPLAYED_HEADER, idem.MISMATCH, idem.CONCURRENCY}
    assert outcomes(report)["idempotency/per company"] is Outcome.PASSED  # its own record, as it should
    messages = [failure.message for check in report.checks for failure in check.failures]
    assert any("another body answered 200, not 422 or 400" in message for message in messages), messages
    assert any("5 requests sent at once under one key created records" in message for message in messages)
    [replay] = [check for check in report.checks if check.name == "idempotency/replay"]
    reproduction = replay.failures[0].reproduction
    assert "-H 'Idempotency-Key: contracts-" in reproduction
    assert "thing-tenant-id: " in reproduction
    assert '{"Things": [{"Name": "Contract ' in reproduction
