"""Credentials go where the spec's security scheme says, and a run whose credentials were refused never passes."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import requests
import yaml
from notes_api import PREFIX, SERVER, NotesApi, keys_for, notes_spec
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from contracts import Keys, Outcome, Target
from contracts import security as sec
from contracts.cli import main
from contracts.credentials import Credentials, credentials_of
from contracts.credentials.schemes import read_schemes
from contracts.http import Client, curl, redact
from contracts.meter import Carried, Meter
from contracts.results import CheckResult, Failure, Report, SuiteRun
from contracts.sessions import settled
from contracts.target import build_target
from contracts.verdict import ExitCode, judge, set_aside_refusals


def spec_file(folder: Path, mode: str, document: dict[str, Any] | None = None) -> Path:
    path = folder / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(document or notes_spec(mode), sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def notes(mode: str, *, refuse_all: bool = False) -> Iterator[tuple[str, NotesApi]]:
    app = NotesApi(mode, refuse_all=refuse_all)
    with serve_wsgi(app, name=f"notes-{mode}") as root:
        yield f"{root}{PREFIX}", app


def contracts_run(base_url: str, spec: Path, keys: dict[str, str], folder: Path, *extra: str) -> int:
    flags = [f"--key={role}={key}" for role, key in keys.items()]
    args = ["run", "--base-url", base_url, "--spec", str(spec), "--seed", "1", "--max-examples", "2", *flags]
    reports = ["--json", str(folder / "r.json"), "--junit-xml", str(folder / "r.xml")]
    return main([*args, "--suite", "conformance,security", *reports, *extra])


# --- against targets that want an X-API-Key header, HTTP basic, a query key, OAuth2 ---------------------------


@pytest.mark.parametrize("mode", ["apikey", "basic", "query", "oauth2"])
def test_each_scheme_is_sent_its_own_way_and_the_run_holds(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with notes(mode) as (base_url, app):
        code = contracts_run(base_url, spec_file(tmp_path, mode), keys_for(mode), tmp_path)
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out[-4000:]
    body = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    checks = {check["name"]: check["outcome"] for check in body["checks"]}
    assert checks["security/auth"] == checks["security/bola"] == checks["security/scopes"] == "passed"
    sent = [seen for seen in app.seen if seen["path"].startswith(f"{PREFIX}/notes")]
    carrying = {"apikey": "x-api-key", "basic": "authorization", "oauth2": "authorization"}
    if mode == "query":
        assert sum("api_key" in seen["query"] for seen in sent) > 50
        assert not any("authorization" in seen["headers"] for seen in sent)
    else:
        assert sum(carrying[mode] in seen["headers"] for seen in sent) > 50
    if mode == "apikey":  # never the old Bearer header: a missing key leaves out X-API-Key itself
        assert not any("authorization" in seen["headers"] for seen in sent)
    if mode == "oauth2":  # one token per role (the first by HTTP basic, which this server refuses, then the form)
        assert app.token_requests == 4
    for key in keys_for(mode).values():
        assert key not in out
        assert key not in (tmp_path / "r.json").read_text(encoding="utf-8")


def test_a_key_alone_is_the_basic_user_name_with_an_empty_password(tmp_path: Path) -> None:
    keys = keys_for("apikey")
    with notes("basic") as (base_url, _):
        code = contracts_run(base_url, spec_file(tmp_path, "basic"), keys, tmp_path)
    assert code == ExitCode.OK


@pytest.mark.parametrize("mode", ["apikey", "basic"])
def test_a_target_refusing_every_request_is_not_tested_never_passed(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with notes(mode, refuse_all=True) as (base_url, _):
        code = contracts_run(base_url, spec_file(tmp_path, mode), keys_for(mode), tmp_path)
    out = capsys.readouterr().out
    assert code == ExitCode.UNTESTED, out[-3000:]
    final = out.strip().splitlines()[-1]
    assert final.startswith("NOT TESTED (exit 3): conformance: the target refused the full credential")
    assert ("an X-API-Key header" if mode == "apikey" else "HTTP Basic") in final
    assert "--key full=" in final
    body = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert body["verdict"]["failed_checks"] == []
    passed = [check["name"] for check in body["checks"] if check["outcome"] == "passed"]
    assert passed == ["GET /health"]  # the public operation; nothing whose every answer was a refusal
    for suite in body["suites"]:
        assert not suite["exercised"]
        full = suite["requests"]["credentials"]["full"]
        assert full["refused"] == full["sent"] > 0
    root = ET.fromstring((tmp_path / "r.xml").read_text(encoding="utf-8"))
    errors = root.findall(".//testcase[@name='exercised']/error")
    assert len(errors) == 2
    assert all("refused the full credential" in (error.get("message") or "") for error in errors)
    if mode == "basic":
        assert 'WWW-Authenticate: Basic realm="notes"' in final


def test_an_unknown_auth_scheme_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = spec_file(tmp_path, "apikey")
    code = main(["run", "--base-url", "http://127.0.0.1:9/v1", "--spec", str(spec), "--auth-scheme", "nope"])
    assert code == ExitCode.USAGE
    assert "'ApiKeyAuth' (an X-API-Key header)" in capsys.readouterr().err
    target = build_target("http://127.0.0.1:9/v1", spec=spec, keys=["k"], auth_scheme="header:X-Token")
    assert credentials_of(target).apply("k", "GET", "/notes").headers == {"X-Token": "k"}


# --- the plan, per operation -------------------------------------------------------------------------------


def plan(document: dict[str, Any], **options: Any) -> Credentials:
    return Credentials(document, base_url="http://127.0.0.1:9/v1", **options)


def test_the_first_alternative_the_harness_can_send_wins_and_public_operations_get_nothing() -> None:
    document = notes_spec("apikey")
    document["components"]["securitySchemes"]["bearerAuth"] = {"type": "http", "scheme": "bearer"}
    document["paths"]["/notes"]["post"]["security"] = [{"bearerAuth": []}, {"ApiKeyAuth": []}]
    credentials = plan(document)
    assert credentials.apply("k", "POST", "/notes").headers == {"Authorization": "Bearer k"}
    assert credentials.apply("k", "GET", "/notes/12").headers == {"X-API-Key": "k"}
    assert not credentials.apply("k", "GET", "/health").carried
    chosen = plan(document, chosen=("ApiKeyAuth",))
    assert chosen.apply("k", "POST", "/notes").headers == {"X-API-Key": "k"}
    assert plan(notes_spec("query")).apply("k", "GET", "/notes/3?x=1").params == {"api_key": "k"}
    cookie = notes_spec("apikey")
    cookie["components"]["securitySchemes"]["ApiKeyAuth"]["in"] = "cookie"
    assert plan(cookie).apply("k", "GET", "/notes").cookies == {"X-API-Key": "k"}


def test_basic_takes_user_and_password_or_a_key_as_the_user() -> None:
    credentials = plan(notes_spec("basic"))
    pair = credentials.apply("alice:pw", "GET", "/notes").headers["Authorization"]
    alone = credentials.apply("sk_1", "GET", "/notes").headers["Authorization"]
    assert base64.b64decode(pair.removeprefix("Basic ")) == b"alice:pw"
    assert base64.b64decode(alone.removeprefix("Basic ")) == b"sk_1:"


def test_specs_without_schemes_or_requirements_and_swagger_2() -> None:
    bare = {"openapi": "3.0.3", "paths": {"/a": {"get": {"responses": {}}}}}
    assert plan(bare).apply("k", "GET", "/a").headers == {"Authorization": "Bearer k"}  # as the harness always did
    unreferenced = notes_spec("apikey")
    unreferenced.pop("security")
    for item in unreferenced["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    assert plan(unreferenced).apply("k", "GET", "/notes").headers == {"X-API-Key": "k"}
    swagger = {"swagger": "2.0", "securityDefinitions": {"b": {"type": "basic"}}, "security": [{"b": []}]}
    assert read_schemes(swagger)["b"].http == "basic"
    assert plan(swagger).apply("u:p", "GET", "/x").headers["Authorization"].startswith("Basic ")


def test_the_security_checks_and_the_plan_agree_on_which_operations_are_public() -> None:
    partly = notes_spec("apikey")  # no document-wide security: the reads declare none, so they are public
    partly.pop("security")
    bare = {"openapi": "3.0.3", "paths": {"/a": {"get": {"responses": {}}}}}
    unreferenced = notes_spec("basic")
    unreferenced.pop("security")
    for item in unreferenced["paths"].values():
        item.get("get", {}).pop("security", None)
    for document in (notes_spec("oauth2"), partly, bare, unreferenced):
        credentials = plan(document)
        for op in sec.Spec(document).operations:
            sends_nothing = credentials.schemes_for(op.method, op.path, template=True) == ()
            assert op.public == sends_nothing, (op.method, op.path)
    public = {(op.method, op.path) for op in sec.Spec(partly).operations if op.public}
    assert public == {("GET", "/health"), ("GET", "/notes"), ("GET", "/notes/{id}")}


def test_a_spec_that_requires_no_credential_is_never_failed_for_answering_without_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = notes_spec("apikey")  # the scheme is declared but no operation requires it
    document.pop("security")
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    with notes("apikey") as (base_url, _):
        contracts_run(base_url, spec_file(tmp_path, "apikey", document), keys_for("apikey"), tmp_path)
    capsys.readouterr()
    body = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    auth = next(check for check in body["checks"] if check["name"] == "security/auth")
    assert auth["outcome"] == "skipped"
    assert "no security requirement" in auth["reason"]


class CountingViews(NotesApi):
    """The notes API with a view counter in every read of a note: two reads in a row never agree."""

    views = 0

    def answer(self, request: Request) -> Response:
        """The response, with ``views`` bumped on a note that reads 200."""
        response = super().answer(request)
        if request.method == "GET" and request.path.startswith(f"{PREFIX}/notes/") and response.status_code == 200:
            self.views += 1
            response.set_data(json.dumps({**json.loads(response.get_data()), "views": self.views}))
        return response


def test_a_record_that_reads_differently_each_time_is_not_claimed_changed_by_others(tmp_path: Path) -> None:
    app = CountingViews("apikey")
    with serve_wsgi(app, name="notes-views") as root:
        flags = [f"--key={role}={key}" for role, key in keys_for("apikey").items()]
        spec = str(spec_file(tmp_path, "apikey"))
        main(
            [
                "run",
                "--base-url",
                f"{root}{PREFIX}",
                "--spec",
                spec,
                "--suite",
                "security",
                "--json",
                str(tmp_path / "r.json"),
                *flags,
            ]
        )
    body = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    messages = [failure["message"] for check in body["checks"] for failure in check["failures"]]
    assert app.views >= 2
    assert not [message for message in messages if "changed" in message], messages
    checks = {check["name"]: check["outcome"] for check in body["checks"]}
    assert checks["security/bola"] == checks["security/scopes"] == "passed"


def test_recursive_schemas_resolve_once_with_the_cycle_cut() -> None:
    fields = {f"f{n}": {"$ref": "#/components/schemas/Payment"} for n in range(6)}  # six ways back, at every level
    schemas = {
        "Invoice": {"type": "object", "properties": {"id": {"type": "string"}, **fields}},
        "Payment": {"type": "object", "properties": {"invoice": {"$ref": "#/components/schemas/Invoice"}}},
    }
    ok = {
        "200": {
            "description": "An invoice.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Invoice"}}},
        }
    }
    document = {
        "openapi": "3.0.3",
        "paths": {"/invoices": {"get": {"responses": ok}}},
        "components": {"schemas": schemas},
    }
    (op,) = sec.Spec(document).operations
    invoice = op.responses["200"]["content"]["application/json"]["schema"]
    assert invoice["properties"]["f0"]["properties"]["invoice"] == {}  # Invoice inside its own expansion: cut
    assert invoice["properties"]["f5"] is invoice["properties"]["f0"]  # resolved once, shared


def test_the_token_url_moves_onto_the_base_url() -> None:
    oauth = plan(notes_spec("oauth2"))
    scheme = oauth.schemes["oauth"]
    assert oauth.token_endpoint(scheme) == "http://127.0.0.1:9/v1/oauth/token"
    relative = notes_spec("oauth2")
    relative["components"]["securitySchemes"]["oauth"]["flows"]["clientCredentials"]["tokenUrl"] = "oauth/token"
    moved = plan(relative)
    assert moved.token_endpoint(moved.schemes["oauth"]) == "http://127.0.0.1:9/v1/oauth/token"
    assert scheme.token_url == f"{SERVER}/oauth/token"
    assert plan(notes_spec("oauth2"), token_url="https://auth.example.com/t").token_endpoint(scheme).endswith("/t")
    assert plan(notes_spec("oauth2")).apply("at_given", "GET", "/notes").headers == {"Authorization": "Bearer at_given"}


# --- secrets and the verdict -------------------------------------------------------------------------------


def test_basic_credentials_are_redacted_and_reproduced_with_curl_u(tmp_path: Path) -> None:
    target = Target("http://127.0.0.1:9/v1", spec_file(tmp_path, "basic"), keys=Keys(full="alice:s3cret-pw"))
    request = requests.Request("GET", "http://127.0.0.1:9/v1/notes", auth=("alice", "s3cret-pw")).prepare()
    shown = curl(request, target)
    assert '-u "${CONTRACTS_KEY_FULL}"' in shown
    assert "s3cret-pw" not in shown
    assert "YWxpY2U6czNjcmV0LXB3" not in redact(str(request.headers), target)
    assert redact("client_secret=s3cret-pw", target) == "client_secret=${CONTRACTS_SECRET_FULL}"
    sample = "curl -X GET -H 'Authorization: Basic YWxpY2U6czNjcmV0LXB3' http://x/notes"
    assert redact(sample, target) == 'curl -X GET -u "${CONTRACTS_KEY_FULL}" http://x/notes'


def test_the_client_counts_refusals_of_valid_roles_only(tmp_path: Path) -> None:
    with notes("apikey", refuse_all=True) as (base_url, _):
        target = Target(base_url, spec_file(tmp_path, "apikey"), keys=Keys(**keys_for("apikey")))
        Client(target, "full").call("GET", "/notes")
        Client(target, "readonly").call("POST", "/notes", json_body={"title": "x"})
        Client(target, None, key="garbage").call("GET", "/notes")
        Client(target, "expired").call("GET", "/notes")
    tallies = target.meter.counts().credentials
    assert set(tallies) == {"full", "readonly"}
    assert (tallies["full"]["sent"], tallies["full"]["refused"]) == (1, 1)
    assert tallies["readonly"]["statuses"] == {"401": 1}
    assert "X-API-Key" in tallies["full"]["how"]


@pytest.fixture
def netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ~/.netrc (``NETRC``) with a basic credential for 127.0.0.1, where every test target listens."""
    path = tmp_path / "netrc"
    path.write_text("machine 127.0.0.1 login someone password from-netrc\n", encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    return path


def test_a_netrc_entry_for_the_target_never_replaces_the_credential_a_role_sends(tmp_path: Path, netrc: Path) -> None:
    with notes("apikey") as (base_url, app):
        target = Target(base_url, spec_file(tmp_path, "apikey"), keys=Keys(**keys_for("apikey")))
        Client(target, None).call("GET", "/notes")
        Client(target, "full").call("GET", "/notes")
    assert [sorted({"authorization", "x-api-key"} & seen["headers"]) for seen in app.seen] == [[], ["x-api-key"]]


def test_a_netrc_entry_for_the_target_reaches_none_of_the_schemathesis_engine_s_requests(
    tmp_path: Path, netrc: Path
) -> None:
    with notes("apikey") as (base_url, app):
        code = contracts_run(base_url, spec_file(tmp_path, "apikey"), keys_for("apikey"), tmp_path)
    assert code == ExitCode.OK
    sent = [seen for seen in app.seen if seen["path"].startswith(f"{PREFIX}/notes")]
    assert sum("x-api-key" in seen["headers"] for seen in sent) > 50
    assert not [seen for seen in sent if "authorization" in seen["headers"]]
    assert os.environ["NETRC"] == str(netrc)  # put back once the engine is done


def test_a_netrc_entry_for_the_token_url_never_joins_a_token_request_sent_with_body_credentials(
    tmp_path: Path, netrc: Path
) -> None:
    with notes("oauth2") as (base_url, app):
        target = Target(base_url, spec_file(tmp_path, "oauth2"), keys=Keys(**keys_for("oauth2")))
        Client(target, "full").call("GET", "/notes")
    tokens = [seen for seen in app.seen if seen["path"].endswith("/oauth/token")]
    assert ["authorization" in seen["headers"] for seen in tokens] == [True, False]  # basic first, then the body


def test_the_environment_s_proxy_and_ca_bundle_are_used_unless_no_proxy_names_the_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/staging-ca.pem")
    session = settled(requests.Session(), "https://staging.example.com/api")
    assert session.proxies.get("https") == "http://proxy.internal:3128"
    assert session.verify == "/etc/staging-ca.pem"
    assert settled(requests.Session(), "https://localhost:8443/api").proxies == {}


def test_findings_about_refusals_are_set_aside_once_a_role_is_refused() -> None:
    meter = Meter()
    meter.answered(401, Carried("full", "an X-API-Key header", refused=True, detail="GET /n answered 401"))
    refusal = Failure("rules.totals", "POST /notes answered 401", status=401)
    real = Failure("rules.totals", "wrong total", status=201)
    only = set_aside_refusals(CheckResult("rules", "totals", Outcome.FAILED, [refusal]), meter.counts())
    assert only.outcome is Outcome.SKIPPED
    assert "set aside" in only.reason
    mixed = set_aside_refusals(CheckResult("rules", "totals", Outcome.FAILED, [refusal, real]), meter.counts())
    assert (mixed.outcome, mixed.failures) == (Outcome.FAILED, [real])
    report = Report(checks=[only], runs=[SuiteRun("rules", 1.0, meter.counts())])
    assert judge(report).code == ExitCode.UNTESTED
    assert "refused the full credential" in judge(report).reason
    accepted = Meter()
    for status in (200, 201, 403, 404):
        accepted.answered(status, Carried("readonly", "h", refused=False))
    assert set_aside_refusals(CheckResult("r", "t", Outcome.FAILED, [refusal]), accepted.counts()).outcome is (
        Outcome.FAILED
    )


def test_a_readonly_403_on_a_write_is_no_refusal_but_on_a_read_it_is() -> None:
    from contracts.credentials import refused

    assert not refused("readonly", "POST", 403)
    assert refused("readonly", "GET", 403)
    assert refused("full", "POST", 403)
    assert refused("other", "DELETE", 401)
