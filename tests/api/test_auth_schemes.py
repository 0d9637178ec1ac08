"""Auth from a foreign spec's securitySchemes: every scheme type, 401 hints and challenges, roles, tokens."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from conftest import ACME_EXPIRED, ACME_FULL, ACME_INVOICES_READ, ACME_READONLY, ROOT, TODAY
from flask import Flask
from flask.testing import FlaskClient

from api.support import expect_error
from mockserver.app import create_app
from mockserver.settings import Settings

SPEC = ROOT / "tests" / "specs" / "small" / "auth-schemes.yaml"
API = "/v2"
CLIENT = {"grant_type": "client_credentials", "client_id": "cli_test_acme", "client_secret": "cs_test_acme_secret"}


def basic(user: str, password: str = "") -> dict[str, str]:
    """An ``Authorization: Basic`` header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def gadgets() -> Flask:
    return create_app(Settings(spec_path=SPEC, strict=True, seed=1, today=dt.date.fromisoformat(TODAY)))


@pytest.fixture
def client(gadgets: Flask) -> FlaskClient:
    gadgets.extensions["sandbox"]["limiter"].clear()
    return gadgets.test_client()


# Each resource takes one scheme; the key goes where that scheme says, as it is.
SENT_RIGHT: list[tuple[str, dict[str, Any]]] = [
    ("/keyed", {"headers": {"X-API-Key": ACME_FULL}}),
    ("/keyed", {"headers": {"x-api-key": ACME_FULL}}),
    ("/raw", {"headers": {"Authorization": ACME_FULL}}),
    ("/raw", {"headers": {"Authorization": f"Bearer {ACME_FULL}"}}),
    ("/raw", {"headers": {"Authorization": f"Token {ACME_FULL}"}}),
    ("/queried", {"query_string": {"api_key": ACME_FULL}}),
    ("/cookied", {"cookies": {"session_id": ACME_FULL}}),
    ("/basic", {"headers": basic(ACME_FULL)}),
    ("/basic", {"headers": basic(ACME_FULL, "anything")}),
    ("/basic", {"headers": basic("api", ACME_FULL)}),
    ("/bearer", {"headers": {"Authorization": f"Bearer {ACME_FULL}"}}),
    ("/token-scheme", {"headers": {"Authorization": f"Token {ACME_FULL}"}}),
    ("/oidc", {"headers": {"Authorization": f"Bearer {ACME_FULL}"}}),
    ("/ledger", {"headers": {"Authorization": f"Bearer {ACME_FULL}"}}),
    ("/either", {"headers": {"X-API-Key": ACME_FULL}}),
    ("/either", {"headers": basic(ACME_FULL)}),
    ("/both", {"headers": {"X-API-Key": ACME_FULL}, "cookies": {"session_id": ACME_FULL}}),
]


@pytest.mark.parametrize(("path", "sent"), SENT_RIGHT)
def test_a_key_sent_the_way_the_scheme_says_is_accepted(client: FlaskClient, path: str, sent: dict[str, Any]) -> None:
    sent = dict(sent)
    for name, value in sent.pop("cookies", {}).items():  # the test client sends its own jar, not a Cookie header
        client.set_cookie(name, value)
    response = client.get(f"{API}{path}", **sent)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert isinstance(response.get_json(), list)


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("/keyed", {"headers": {"Authorization": f"Bearer {ACME_FULL}"}}),  # not where the spec says
        ("/keyed", {"query_string": {"api_key": ACME_FULL}}),
        ("/queried", {"headers": {"X-API-Key": ACME_FULL}}),
        ("/cookied", {"headers": {"X-API-Key": ACME_FULL}}),
        ("/basic", {"headers": {"Authorization": f"Bearer {ACME_FULL}"}}),
        ("/bearer", {"headers": basic(ACME_FULL)}),
        ("/token-scheme", {"headers": {"Authorization": f"Bearer {ACME_FULL}"}}),
        ("/both", {"headers": {"X-API-Key": ACME_FULL}}),  # both schemes are required
    ],
)
def test_a_key_sent_elsewhere_is_missing(client: FlaskClient, path: str, sent: dict[str, Any]) -> None:
    body = expect_error(client.get(f"{API}{path}", **sent), 401, "unauthorized")
    assert body["message"].startswith("Missing credentials")
    assert ACME_FULL not in body["message"]


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("/keyed", {"headers": {"X-API-Key": ACME_FULL[:-1]}}),
        ("/raw", {"headers": {"Authorization": "Bearer nope"}}),
        ("/queried", {"query_string": {"api_key": "sk_test_nobody"}}),
        ("/basic", {"headers": basic("sk_test_nobody", "sk_test_nobody_either")}),
        ("/basic", {"headers": {"Authorization": "Basic !!!not-base64"}}),
        ("/basic", {"headers": {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()}}),
        ("/bearer", {"headers": {"Authorization": f"Bearer {ACME_EXPIRED}"}}),
    ],
)
def test_a_wrong_or_malformed_credential_is_401_never_500(client: FlaskClient, path: str, sent: dict[str, Any]) -> None:
    expect_error(client.get(f"{API}{path}", **sent), 401, "unauthorized")


@pytest.mark.parametrize(
    ("path", "says", "challenge"),
    [
        ("/keyed", "the header 'X-API-Key: <your sandbox API key>'", None),
        ("/raw", "the header 'Authorization: <your sandbox API key>'", None),
        ("/queried", "the query parameter 'api_key=<your sandbox API key>'", None),
        ("/cookied", "the cookie 'session_id=<your sandbox API key>'", None),
        ("/basic", "HTTP Basic auth with your sandbox API key as the user name", "Basic "),
        ("/bearer", "'Authorization: Bearer <your sandbox API key>'", "Bearer "),
        ("/token-scheme", "'Authorization: Token <your sandbox API key>'", "Token "),
        ("/oidc", "'Authorization: Bearer <your sandbox API key>'", "Bearer "),
        ("/ledger", "an OAuth2 access token", "Bearer "),
    ],
)
def test_the_401_says_how_this_operation_takes_a_key(
    client: FlaskClient, path: str, says: str, challenge: str | None
) -> None:
    response = client.get(f"{API}{path}")
    assert says in expect_error(response, 401, "unauthorized")["message"]
    if challenge is None:
        assert "WWW-Authenticate" not in response.headers
    else:
        assert response.headers["WWW-Authenticate"].startswith(challenge)


def test_the_401_of_alternatives_names_each_and_challenges_for_the_http_ones(client: FlaskClient) -> None:
    response = client.get(f"{API}/either")
    message = expect_error(response, 401, "unauthorized")["message"]
    assert "'X-API-Key: <your sandbox API key>' or HTTP Basic" in message
    assert response.headers["WWW-Authenticate"] == 'Basic realm="sandbox", charset="UTF-8"'


def sent_with(path: str, key: str) -> dict[str, Any]:
    """The request arguments that send ``key`` to ``path`` the way its scheme says."""
    ways: dict[str, dict[str, Any]] = {
        "/keyed": {"headers": {"X-API-Key": key}},
        "/queried": {"query_string": {"api_key": key}},
        "/basic": {"headers": basic(key)},
        "/bearer": {"headers": {"Authorization": f"Bearer {key}"}},
        "/oidc": {"headers": {"Authorization": f"Bearer {key}"}},
        "/either": {"headers": basic(key)},
    }
    return ways[path]


@pytest.mark.parametrize("path", ["/keyed", "/queried", "/basic", "/bearer", "/oidc", "/either"])
def test_without_scopes_a_read_only_key_reads_but_never_writes(gadgets: Flask, client: FlaskClient, path: str) -> None:
    store = gadgets.extensions["sandbox"]["engine"].store
    assert client.get(f"{API}{path}", **sent_with(path, ACME_READONLY)).status_code == 200
    before = store.export()
    refused = client.post(f"{API}{path}", json={"name": "Nope"}, **sent_with(path, ACME_READONLY))
    assert "read-only" in expect_error(refused, 403, "forbidden")["message"]
    assert store.export() == before
    assert client.post(f"{API}{path}", json={"name": "Yes"}, **sent_with(path, ACME_FULL)).status_code == 201


def test_scopes_decide_where_the_spec_names_them(client: FlaskClient) -> None:
    reader = {"Authorization": f"Bearer {ACME_READONLY}"}
    assert client.get(f"{API}/ledger", headers=reader).status_code == 200
    denied = expect_error(client.post(f"{API}/ledger", json={"name": "x"}, headers=reader), 403, "forbidden")
    assert "accounting.ledger" in denied["message"]
    # "notes" gates reads and writes alike: a read-only key reads notes, and still cannot write them.
    assert client.get(f"{API}/notes", headers=reader).status_code == 200
    refused = expect_error(client.post(f"{API}/notes", json={"name": "x"}, headers=reader), 403, "forbidden")
    assert "read-only" in refused["message"]
    assert "notes" in refused["message"]
    # A single-scope key whose pattern matches none of this spec's scopes holds none of them.
    single = {"Authorization": f"Bearer {ACME_INVOICES_READ}"}
    assert (
        "accounting.ledger.read"
        in expect_error(client.get(f"{API}/ledger", headers=single), 403, "forbidden")["message"]
    )


def test_the_tokenurl_serves_the_client_credentials_grant(client: FlaskClient) -> None:
    response = client.post("/oauth2/token", data={**CLIENT, "scope": "accounting.ledger.read"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    token = response.get_json()
    assert (token["token_type"], token["scope"]) == ("Bearer", "accounting.ledger.read")
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get(f"{API}/ledger", headers=bearer).status_code == 200
    expect_error(client.post(f"{API}/ledger", json={"name": "x"}, headers=bearer), 403, "forbidden")
    # A token narrowed to read scopes is read-only where the spec names no write scope.
    expect_error(client.post(f"{API}/notes", json={"name": "x"}, headers=bearer), 403, "forbidden")


def test_the_token_endpoint_takes_client_credentials_by_http_basic(client: FlaskClient) -> None:
    form = {"grant_type": "client_credentials"}
    response = client.post("/oauth2/token", data=form, headers=basic("cli_test_acme", "cs_test_acme_secret"))
    assert response.status_code == 200, response.get_data(as_text=True)
    full = response.get_json()
    assert full["scope"].split() == ["accounting.ledger", "accounting.ledger.read", "notes"]
    bearer = {"Authorization": f"Bearer {full['access_token']}"}
    assert client.post(f"{API}/ledger", json={"name": "Via token"}, headers=bearer).status_code == 201


@pytest.mark.parametrize(
    ("sent", "status", "code"),
    [
        ({"data": {**CLIENT, "client_secret": "wrong"}}, 401, "unauthorized"),
        ({"data": {**CLIENT, "grant_type": "authorization_code", "code": "x"}}, 400, "bad_request"),
        ({"data": {**CLIENT, "scope": "gadgets:everything"}}, 400, "bad_request"),
        ({"json": CLIENT}, 415, "unsupported_media_type"),
    ],
)
def test_a_bad_token_request_is_a_documented_4xx(
    client: FlaskClient, sent: dict[str, Any], status: int, code: str
) -> None:
    body = expect_error(client.post("/oauth2/token", **sent), status, code)
    assert "cs_test_acme_secret" not in body["message"]


def test_an_api_key_in_the_query_is_no_unknown_parameter_and_is_redacted_in_the_journal(
    gadgets: Flask, client: FlaskClient
) -> None:
    assert client.get(f"{API}/queried", query_string={"api_key": ACME_FULL}).status_code == 200
    admin = {"Authorization": f"Bearer {gadgets.extensions['sandbox']['admin_token']}"}
    journal = client.get("/__sandbox/journal", headers=admin, query_string={"path": f"{API}/queried"})
    assert journal.status_code == 200, journal.get_data(as_text=True)
    text = journal.get_data(as_text=True)
    assert ACME_FULL not in text
    assert "api_key=[redacted]" in text
