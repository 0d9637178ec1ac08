"""Credentials and scopes: 401 without a usable key, 403 naming the missing scope, /me, /health, OAuth2."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import ACME_EXPIRED, ACME_FULL, ACME_INVOICES_READ, ACME_READONLY, API, GLOBEX_FULL, auth
from flask import Flask
from flask.testing import FlaskClient

from api.support import LIST_PATHS, data_of, expect_error, fetch

OAUTH_CLIENT = {
    "grant_type": "client_credentials",
    "client_id": "cli_test_acme",
    "client_secret": "cs_test_acme_secret",
}
SAMPLE_CALLS = [
    ("GET", "/customers"),
    ("GET", "/customers/1"),
    ("POST", "/invoices"),
    ("DELETE", "/items/1"),
    ("POST", "/invoices/1/send"),
    ("GET", "/invoices/1/pdf"),
    ("GET", "/me"),
    ("GET", "/reports/financial"),
    ("GET", "/search?q=doe"),
]


def declared_scopes(app: Flask) -> list[str]:
    """Every scope the spec's OAuth2 flow declares, sorted."""
    schemes = app.extensions["sandbox"]["index"].document["components"]["securitySchemes"]
    return sorted(schemes["oauth2"]["flows"]["clientCredentials"]["scopes"])


def token(client: FlaskClient, **form: str) -> dict[str, Any]:
    """Run the client-credentials grant and return the token response (asserting 200)."""
    response = client.post(f"{API}/oauth/token", data={**OAUTH_CLIENT, **form})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    return body


@pytest.mark.parametrize(("method", "path"), SAMPLE_CALLS)
def test_no_credentials_is_401_with_a_bearer_challenge(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(f"{API}{path}", method=method)
    expect_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sk_test_not_a_real_key",
        "Bearer " + ACME_FULL[:-1],
        "Bearer " + ACME_FULL.upper(),
        "Basic " + ACME_FULL,
        ACME_FULL,
        "Bearer",
        "Bearer  ",
    ],
)
@pytest.mark.parametrize(("method", "path"), SAMPLE_CALLS[:3])
def test_an_unknown_or_malformed_credential_is_401(client: FlaskClient, method: str, path: str, header: str) -> None:
    expect_error(client.open(f"{API}{path}", method=method, headers={"Authorization": header}), 401, "unauthorized")


@pytest.mark.parametrize(("method", "path"), SAMPLE_CALLS)
def test_an_expired_key_is_401_saying_so(client: FlaskClient, method: str, path: str) -> None:
    body = expect_error(client.open(f"{API}{path}", method=method, headers=auth(ACME_EXPIRED)), 401, "unauthorized")
    assert "expired" in body["message"]


def test_credentials_are_checked_before_the_request_is_validated(client: FlaskClient) -> None:
    bad_json = {"Content-Type": "application/json"}
    expect_error(client.post(f"{API}/customers", data=b"{oops", headers=bad_json), 401, "unauthorized")
    expect_error(client.get(f"{API}/customers/abc"), 401, "unauthorized")
    expect_error(client.get(f"{API}/customers/9999"), 401, "unauthorized")
    expect_error(client.post(f"{API}/customers", json={}, headers=auth(ACME_READONLY)), 403, "forbidden")


WRITES = [
    ("POST", "/customers", {"name": "Blocked"}, ["customers:write"]),
    ("PUT", "/customers/1", {"name": "Blocked"}, ["customers:write"]),
    ("PATCH", "/customers/1", {"name": "Blocked"}, ["customers:write"]),
    ("DELETE", "/customers/1", None, ["customers:write"]),
    ("POST", "/batch/customers", {"customers": [{"name": "Blocked"}]}, ["customers:write"]),
    ("POST", "/invoices/1/send", None, ["invoices:write"]),
    ("POST", "/invoices/2/mark-paid", None, ["invoices:write"]),
    ("POST", "/estimates/1/convert", None, ["estimates:write", "invoices:write"]),
    ("POST", "/leads/1/convert", None, ["leads:write", "customers:write"]),
    ("POST", "/webhooks/1/test", None, ["webhooks:write"]),
    ("DELETE", "/users/2", None, ["users:write"]),
    ("POST", "/expense-categories", {"name": "Blocked"}, ["expenses:write"]),
    (
        "POST",
        "/transactions",
        {"type": "INCOME", "account_id": 1, "amount": 1, "date": "2026-06-01"},
        ["transactions:write"],
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "scopes"), WRITES)
def test_a_read_only_key_gets_403_naming_the_missing_scope_and_nothing_changes(
    app: Flask, client: FlaskClient, method: str, path: str, body: Any, scopes: list[str]
) -> None:
    store = app.extensions["sandbox"]["engine"].store
    before = store.export()
    response = client.open(f"{API}{path}", method=method, json=body, headers=auth(ACME_READONLY))
    message = expect_error(response, 403, "forbidden")["message"]
    for scope in scopes:
        assert scope in message
    assert store.export() == before


@pytest.mark.parametrize("path", [*LIST_PATHS, "/invoices/1", "/invoices/1/pdf", "/reports/financial", "/me"])
def test_a_read_only_key_reads_everything(client: FlaskClient, path: str) -> None:
    assert client.get(f"{API}{path}", headers=auth(ACME_READONLY)).status_code == 200


@pytest.mark.parametrize("path", ["/invoices", "/invoices/1", "/invoices/1/pdf", "/invoices?status=COMPLETED"])
def test_a_single_scope_key_reads_its_resource(client: FlaskClient, path: str) -> None:
    assert client.get(f"{API}{path}", headers=auth(ACME_INVOICES_READ)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/customers", "customers:read"),
        ("GET", "/customers/1", "customers:read"),
        ("GET", "/estimates", "estimates:read"),
        ("GET", "/projects/1/invoices", "projects:read"),
        ("GET", "/reports/financial", "reports:read"),
        ("POST", "/invoices", "invoices:write"),
        ("POST", "/invoices/1/complete", "invoices:write"),
    ],
)
def test_a_single_scope_key_gets_403_everywhere_else(client: FlaskClient, method: str, path: str, scope: str) -> None:
    response = client.open(f"{API}{path}", method=method, json={}, headers=auth(ACME_INVOICES_READ))
    assert scope in expect_error(response, 403, "forbidden")["message"]


@pytest.mark.parametrize(
    "headers", [{}, auth("sk_test_garbage"), auth(ACME_EXPIRED)], ids=["none", "garbage", "expired"]
)
def test_health_needs_no_key(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get(f"{API}/health", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "healthy"
    assert body["timestamp"].endswith("Z")


def test_me_shows_the_company_and_the_key_with_concrete_scopes(app: Flask, client: FlaskClient) -> None:
    me = fetch(client, "/me")
    assert me["company"] == {
        "id": 1,
        "name": "Acme Corp",
        "slug": "acme-corp",
        "currency": "USD",
        "address": {
            "address_street_1": "123 Main St",
            "city": "New York",
            "state": "NY",
            "zip": "10001",
            "country": "US",
            "phone": "+1 555-0100",
        },
    }
    assert me["api_key"]["name"] == "Acme full access"
    assert me["api_key"]["scopes"] == declared_scopes(app)
    assert me["api_key"]["expires_at"] is None


@pytest.mark.parametrize(
    ("key", "name", "wanted"),
    [
        (ACME_READONLY, "Acme read-only", lambda s: s.endswith(":read")),
        (ACME_INVOICES_READ, "Acme invoices read", lambda s: s == "invoices:read"),
        (GLOBEX_FULL, "Globex full access", lambda s: True),
    ],
)
def test_me_expands_scope_patterns(app: Flask, client: FlaskClient, key: str, name: str, wanted: Any) -> None:
    me = fetch(client, "/me", key)
    assert me["api_key"]["name"] == name
    assert me["api_key"]["scopes"] == [s for s in declared_scopes(app) if wanted(s)]


@pytest.mark.parametrize("key", [ACME_FULL, ACME_READONLY, ACME_INVOICES_READ, GLOBEX_FULL])
def test_me_never_reveals_the_secret(client: FlaskClient, key: str) -> None:
    response = client.get(f"{API}/me", headers=auth(key))
    assert key not in response.get_data(as_text=True)
    prefix = response.get_json()["data"]["api_key"]["prefix"]
    assert key.startswith(prefix)
    assert len(prefix) < len(key) // 2


def test_me_of_a_globex_key_is_globex(client: FlaskClient) -> None:
    company = fetch(client, "/me", GLOBEX_FULL)["company"]
    assert (company["id"], company["name"], company["currency"]) == (2, "Globex Ltd", "GBP")


def test_an_oauth_token_works_as_a_bearer_key_limited_to_its_scopes(client: FlaskClient) -> None:
    granted = token(client, scope="invoices:read")
    assert granted["token_type"] == "Bearer"
    assert granted["expires_in"] == 3600
    assert granted["scope"] == "invoices:read"
    bearer = auth(granted["access_token"])
    assert fetch(client, "/invoices/1", granted["access_token"])["invoice_number"] == "INV-000001"
    message = expect_error(client.get(f"{API}/customers", headers=bearer), 403, "forbidden")["message"]
    assert "customers:read" in message
    expect_error(client.post(f"{API}/invoices/2/send", headers=bearer), 403, "forbidden")
    me = fetch(client, "/me", granted["access_token"])
    assert me["company"]["name"] == "Acme Corp"
    assert me["api_key"]["scopes"] == ["invoices:read"]
    assert granted["access_token"] not in str(me)


@pytest.mark.parametrize(
    ("client_id", "secret"), [("cli_test_acme", "cs_test_acme_secret"), ("cli_test_acme", "cs%20wrong")]
)
def test_the_client_may_authenticate_with_http_basic_instead_of_the_form(
    client: FlaskClient, client_id: str, secret: str
) -> None:
    """RFC 6749 section 2.3.1 (client_secret_basic): what Swagger UI and most OAuth libraries send."""
    basic = {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
    response = client.post(f"{API}/oauth/token", data={"grant_type": "client_credentials"}, headers=basic)
    if secret == "cs_test_acme_secret":
        assert response.status_code == 200, response.get_json()
        assert fetch(client, "/me", response.get_json()["access_token"])["company"]["name"] == "Acme Corp"
    else:
        expect_error(response, 401, "unauthorized")


def test_an_oauth_token_for_several_scopes_has_all_of_them(client: FlaskClient) -> None:
    granted = token(client, scope="customers:read customers:write")
    assert granted["scope"] == "customers:read customers:write"
    created = data_of(
        client.post(f"{API}/customers", json={"name": "Via OAuth"}, headers=auth(granted["access_token"])),
        201,
    )
    assert created["company_id"] == 1


def test_an_oauth_token_without_scope_gets_every_concrete_scope_of_the_client(app: Flask, client: FlaskClient) -> None:
    granted = token(client)
    assert granted["scope"].split() == declared_scopes(app)
    assert client.get(f"{API}/customers", headers=auth(granted["access_token"])).status_code == 200


def test_a_globex_oauth_token_acts_for_globex(client: FlaskClient) -> None:
    granted = token(client, client_id="cli_test_globex", client_secret="cs_test_globex_secret", scope="customers:read")
    assert fetch(client, "/me", granted["access_token"])["company"]["name"] == "Globex Ltd"


@pytest.mark.parametrize(
    "form",
    [
        {"client_secret": "wrong"},
        {"client_id": "cli_test_nobody"},
        {"client_id": "cli_test_globex"},
        {"client_secret": "cs_test_acme_secret "},
    ],
)
def test_a_wrong_client_or_secret_is_401(client: FlaskClient, form: dict[str, str]) -> None:
    body = expect_error(client.post(f"{API}/oauth/token", data={**OAUTH_CLIENT, **form}), 401, "unauthorized")
    assert "cs_test" not in body["message"]


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password"},
        {"grant_type": "authorization_code"},
        {"grant_type": ""},
        {"scope": "invoices:delete"},
        {"scope": "nonsense:read"},
        {"scope": "*"},
        {"unexpected": "field"},
    ],
)
def test_a_bad_grant_or_scope_is_400(client: FlaskClient, form: dict[str, str]) -> None:
    expect_error(client.post(f"{API}/oauth/token", data={**OAUTH_CLIENT, **form}), 400, "bad_request")


@pytest.mark.parametrize("missing", ["grant_type", "client_id", "client_secret"])
def test_a_grant_missing_a_member_is_400(client: FlaskClient, missing: str) -> None:
    form = {k: v for k, v in OAUTH_CLIENT.items() if k != missing}
    assert missing in expect_error(client.post(f"{API}/oauth/token", data=form), 400, "bad_request")["message"]


def test_the_token_endpoint_takes_a_form_not_json(client: FlaskClient) -> None:
    expect_error(client.post(f"{API}/oauth/token", json=OAUTH_CLIENT), 415, "unsupported_media_type")
