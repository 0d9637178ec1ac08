"""The gateway serves spec operations without Flask: the answers must be the ones Flask would give."""

from __future__ import annotations

import gc
import logging
import weakref

import pytest
from conftest import API, auth
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import Client, EnvironBuilder

from mockserver.gateway import Gateway
from mockserver.rsgi import BODY_TIMED_OUT, call_wsgi


def _through_flask(app: Flask) -> Client:
    """A client for the same app with the gateway taken out: Flask routes every request."""
    gateway = app.wsgi_app
    assert isinstance(gateway, Gateway)
    return Client(gateway.fallback)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{API}/invoices/1", None),
        ("GET", f"{API}/invoices?limit=3&sort=-invoice_date", None),
        ("GET", f"{API}/invoices/999999", None),
        ("POST", f"{API}/customers", {"name": "Gateway Check"}),
        ("POST", f"{API}/customers", {"name": 7}),
        ("GET", "/health", None),
    ],
)
def test_an_operation_answers_the_same_with_and_without_the_gateway(
    app: Flask, client: FlaskClient, method: str, path: str, body: object
) -> None:
    headers = {**auth(), "X-Request-Id": "same-id"}
    direct = client.open(path, method=method, json=body, headers=headers)
    via_flask = _through_flask(app).open(path, method=method, json=body, headers=headers)
    assert direct.status == via_flask.status
    for name in ("Content-Type", "X-Request-Id", "Access-Control-Allow-Origin", "X-RateLimit-Limit"):
        assert direct.headers.get(name) == via_flask.headers.get(name)
    if method == "GET":
        assert direct.get_json() == via_flask.get_json()
        assert direct.headers["Content-Length"] == str(len(direct.data))


def test_head_sends_the_length_of_get_and_no_body(client: FlaskClient) -> None:
    got = client.get(f"{API}/invoices/1", headers=auth())
    head = client.head(f"{API}/invoices/1", headers=auth())
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len(got.data))
    assert head.headers["Content-Type"] == "application/json"


def test_no_content_has_no_body_headers(client: FlaskClient) -> None:
    created = client.post(f"{API}/customers", json={"name": "Short Lived"}, headers=auth()).get_json()["data"]
    gone = client.delete(f"{API}/customers/{created['id']}", headers=auth())
    assert gone.status_code == 204
    assert gone.data == b""
    assert "Content-Type" not in gone.headers
    assert "Content-Length" not in gone.headers
    assert gone.headers["X-Request-Id"]


def test_a_failure_inside_an_operation_is_a_logged_500_in_the_error_shape(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = app.extensions["sandbox"]["engine"]

    def broken(call: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "dispatch", broken)
    with caplog.at_level(logging.ERROR, logger="mockserver"):
        response = client.get(f"{API}/invoices/1", headers={**auth(), "X-Request-Id": "broken-1"})
    assert response.status_code == 500
    assert response.get_json() == {
        "error": "internal_error",
        "message": "The sandbox failed: RuntimeError('boom')",
        "request_id": "broken-1",
    }
    assert response.headers["X-Request-Id"] == "broken-1"
    assert any(record.exc_info for record in caplog.records)


def test_links_come_from_the_configured_base_url_never_the_host_header(client: FlaskClient) -> None:
    body = client.get(f"{API}/customers?limit=2", headers={**auth(), "Host": "evil.example"}).get_json()
    links = [link for link in body["links"].values() if link]
    assert links
    assert all(link.startswith(f"http://127.0.0.1:8080{API}/customers?") for link in links)


@pytest.mark.parametrize("host", ["localhost:8080", "LOCALHOST:8080", "127.0.0.1:8080", "[::1]:8080"])
def test_links_follow_a_host_header_that_names_this_sandbox_another_way(client: FlaskClient, host: str) -> None:
    """A client that called http://localhost:PORT is sent links it can follow there (issue 13: the base URL called)."""
    body = client.get(f"{API}/customers?limit=2", headers={**auth(), "Host": host}).get_json()
    links = [link for link in body["links"].values() if link]
    assert links
    assert all(link.startswith(f"http://{host.lower()}{API}/customers?") for link in links)


@pytest.mark.parametrize("host", ["localhost:9999", "localhost", "127.0.0.2:8080", "localhost.evil.example:8080"])
def test_a_host_header_naming_another_port_or_host_is_not_followed(client: FlaskClient, host: str) -> None:
    body = client.get(f"{API}/customers?limit=2", headers={**auth(), "Host": host}).get_json()
    assert all(link.startswith(f"http://127.0.0.1:8080{API}/") for link in body["links"].values() if link)


def test_the_served_spec_names_this_sandbox_as_its_server(client: FlaskClient) -> None:
    for path in ("/openapi.json", "/"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert "evil.example" not in response.get_data(as_text=True)
    assert client.get("/openapi.json").get_json()["servers"] == [
        {"url": f"http://127.0.0.1:8080{API}", "description": "This sandbox."}
    ]


class _Held:
    """Something a request's environ carries, standing for the connection the server holds for it."""


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", f"{API}/invoices/1", None, 200),
        ("POST", f"{API}/customers", b'{"name": "Freed"}', 201),
        ("GET", f"{API}/invoices/999999", None, 404),
        ("POST", f"{API}/customers", b'{"name": 7}', 422),
        ("POST", f"{API}/customers", b'{"name":', 408),
    ],
)
def test_an_answered_request_leaves_nothing_behind_for_the_garbage_collector(
    app: Flask, method: str, path: str, body: bytes | None, status: int
) -> None:
    """A refusal kept with its traceback held the request's frames (and the server's connection) in a cycle.

    Granian keeps a connection whose body was not read to the end open until its request object is
    freed: with the cycle, a client refused with 408 and ``Connection: close`` waited for the
    garbage collector, which an idle server never runs.
    """
    held = _Held()
    environ = EnvironBuilder(
        path=path,
        method=method,
        data=body,
        headers=list(auth().items()),
        content_type="application/json" if body else None,
    ).get_environ()
    environ["test.held"] = held
    if status == 408:
        environ[BODY_TIMED_OUT] = 2.0
    gc.collect()
    gc.disable()
    try:
        answered, _headers, _body = call_wsgi(app.wsgi_app, environ)
        assert answered == status
        del environ
        alive = weakref.ref(held)
        del held
        assert alive() is None, "the request's environ outlived its answer (a reference cycle holds it)"
    finally:
        gc.enable()
