"""HTTP manners: unknown paths, wrong methods, CORS, request ids and rate limits."""

from __future__ import annotations

import re
import uuid

import pytest
from conftest import ACME_FULL, ACME_READONLY, API, GLOBEX_FULL, auth
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.support import expect_error
from mockserver.app import create_app
from mockserver.settings import Settings

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        f"{API}/nope",
        f"{API}/customers/1/nope",
        f"{API}/invoices/1/pay",
        f"{API}/v2/customers",
        "/api/v2/customers",
    ],
)
def test_an_unknown_path_is_404(client: FlaskClient, path: str) -> None:
    for headers in ({}, auth()):
        expect_error(client.get(path, headers=headers), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/customers", {"GET", "POST"}),
        ("PUT", "/customers", {"GET", "POST"}),
        ("POST", "/customers/1", {"GET", "PUT", "PATCH", "DELETE"}),
        ("GET", "/invoices/1/send", {"POST"}),
        ("DELETE", "/transactions/1", {"GET"}),
        ("POST", "/currencies", {"GET"}),
        ("PATCH", "/me", {"GET"}),
        ("GET", "/oauth/token", {"POST"}),
        ("TRACE", "/health", {"GET"}),
    ],
)
def test_a_wrong_method_is_405_with_an_allow_header_listing_the_right_ones(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(f"{API}{path}", method=method, headers=auth())
    assert method in expect_error(response, 405, "method_not_allowed")["message"]
    listed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= listed <= allowed | {"HEAD", "OPTIONS"}


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/customers", {"GET", "POST"}),
        ("/invoices/{id}", {"GET", "PUT", "PATCH", "DELETE"}),
        ("/oauth/token", {"POST"}),
    ],
)
def test_an_options_preflight_is_204_with_cors_headers_and_needs_no_key(
    client: FlaskClient, path: str, methods: set[str]
) -> None:
    response = client.options(
        f"{API}{path.replace('{id}', '1')}",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert methods <= {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "content-type", "idempotency-key", "x-request-id"):
        assert header in allowed_headers


def sample_responses(client: FlaskClient) -> list[TestResponse]:
    """One response of every kind the API gives: success, each error, no content, a PDF."""
    return [
        client.get(f"{API}/health"),
        client.get(f"{API}/customers", headers=auth()),
        client.post(f"{API}/customers", json={"name": "Cors"}, headers=auth()),
        client.delete(f"{API}/items/2", headers=auth()),
        client.get(f"{API}/invoices/1/pdf", headers=auth()),
        client.get(f"{API}/customers?limit=0", headers=auth()),
        client.get(f"{API}/customers"),
        client.post(f"{API}/customers", json={"name": "X"}, headers=auth(ACME_READONLY)),
        client.get(f"{API}/customers/9999", headers=auth()),
        client.get("/nowhere"),
        client.delete(f"{API}/customers", headers=auth()),
        client.post(f"{API}/invoices/1/send", headers=auth()),
        client.post(f"{API}/customers", data="x", headers=auth() | {"Content-Type": "text/plain"}),
        client.post(f"{API}/customers", json={}, headers=auth()),
        client.options(f"{API}/customers"),
    ]


def test_every_response_carries_cors_request_id_and_rate_limit_headers(client: FlaskClient) -> None:
    statuses = set()
    for response in sample_responses(client):
        statuses.add(response.status_code)
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        exposed = response.headers["Access-Control-Expose-Headers"]
        assert "X-Request-Id" in exposed
        assert "X-RateLimit-Remaining" in exposed
        assert UUID4.fullmatch(response.headers["X-Request-Id"])
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert int(response.headers[name]) >= 0
    assert statuses == {200, 201, 204, 400, 401, 403, 404, 405, 409, 415, 422}


@pytest.mark.parametrize("sent", ["abc-123", "req_01HZX.7:retry-2", "A" * 128, str(uuid.UUID(int=7))])
def test_a_sane_x_request_id_is_echoed_in_the_header_and_the_error_body(client: FlaskClient, sent: str) -> None:
    response = client.get(f"{API}/customers/9999", headers=auth() | {"X-Request-Id": sent})
    assert response.headers["X-Request-Id"] == sent
    assert expect_error(response, 404, "not_found")["request_id"] == sent
    assert client.get(f"{API}/health", headers={"X-Request-Id": sent}).headers["X-Request-Id"] == sent


@pytest.mark.parametrize(
    "sent",
    ["has space", "A" * 129, "x" * 300, "semi;colon", "new\tline", "<script>", "ünïcode", ""],
)
def test_an_insane_x_request_id_is_replaced_by_a_uuid(client: FlaskClient, sent: str) -> None:
    response = client.get(f"{API}/customers/9999", headers=auth() | {"X-Request-Id": sent})
    generated = response.headers["X-Request-Id"]
    assert UUID4.fullmatch(generated)
    assert expect_error(response, 404, "not_found")["request_id"] == generated


def test_every_request_without_an_id_gets_a_fresh_one(client: FlaskClient) -> None:
    ids = {client.get(f"{API}/health").headers["X-Request-Id"] for _ in range(5)}
    assert len(ids) == 5


def test_rate_limit_remaining_counts_down_per_key(client: FlaskClient) -> None:
    def remaining(key: str) -> int:
        response = client.get(f"{API}/customers/1", headers=auth(key))
        assert response.headers["X-RateLimit-Limit"] == "1000"
        return int(response.headers["X-RateLimit-Remaining"])

    acme = [remaining(ACME_FULL) for _ in range(3)]
    assert acme == [acme[0], acme[0] - 1, acme[0] - 2]
    assert acme[0] == 999
    globex = remaining(GLOBEX_FULL)
    assert globex == 999
    assert remaining(ACME_FULL) == acme[-1] - 1


@pytest.fixture(scope="module")
def limited_app() -> Flask:
    """A separate strict sandbox allowing 3 requests per window, built once for this module."""
    return create_app(Settings(rate_limit=3, strict=True))


@pytest.fixture
def limited(limited_app: Flask) -> Flask:
    """The rate-limited sandbox with every caller's budget full again."""
    limited_app.extensions["sandbox"]["limiter"].clear()
    return limited_app


def test_the_request_over_the_limit_is_429_with_retry_after(limited: Flask) -> None:
    client = limited.test_client()
    budgets = [client.get(f"{API}/customers", headers=auth()) for _ in range(3)]
    assert [r.status_code for r in budgets] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in budgets] == ["2", "1", "0"]
    for _ in range(2):
        refused = client.post(f"{API}/customers", json={"name": "Too many"}, headers=auth())
        body = expect_error(refused, 429, "rate_limited")
        assert "3" in body["message"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(f"{API}/customers", headers=auth(GLOBEX_FULL)).status_code == 200


def test_unauthenticated_calls_have_a_budget_per_address_and_operation(limited: Flask) -> None:
    client = limited.test_client()
    assert [client.get(f"{API}/health").status_code for _ in range(3)] == [200, 200, 200]
    expect_error(client.get(f"{API}/health"), 429, "rate_limited")
    token = client.post(f"{API}/oauth/token", data={"grant_type": "client_credentials"})
    assert token.status_code != 429  # health checks never use up the token endpoint's budget
    assert client.get(f"{API}/customers/1", headers=auth()).status_code == 200


def test_failed_authentication_is_limited_per_address(limited: Flask) -> None:
    client = limited.test_client()
    for _ in range(3):
        expect_error(client.get(f"{API}/customers", headers=auth("sk_test_guess")), 401, "unauthorized")
    refused = expect_error(client.get(f"{API}/customers", headers=auth("sk_test_guess")), 429, "rate_limited")
    assert "failed authentication" in refused["message"]
    elsewhere = client.get(f"{API}/customers", headers=auth("sk_test_guess"), environ_base={"REMOTE_ADDR": "10.9.8.7"})
    expect_error(elsewhere, 401, "unauthorized")
