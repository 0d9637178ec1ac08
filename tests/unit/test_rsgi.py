"""The RSGI adapter hands the app the same environ a WSGI server would, and the app's whole answer back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from mockserver.gateway import headers_of
from mockserver.platform.journal_entry import redact
from mockserver.rsgi import SENT_HEADERS, WsgiOverRsgi, call_wsgi, wsgi_environ


@dataclass
class _Headers:
    pairs: list[tuple[str, str]]

    def items(self) -> list[tuple[str, str]]:
        return self.pairs

    def get(self, key: str, default: Any = None) -> Any:
        return next((value for name, value in self.pairs if name == key), default)


@dataclass
class _Scope:
    path: str
    query_string: str = ""
    method: str = "GET"
    client: str = "127.0.0.1:50000"
    server: str = "127.0.0.1:8080"
    proto: str = "http"
    http_version: str = "1.1"
    scheme: str = "http"
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def headers(self) -> _Headers:
        return _Headers(self.pairs)


def test_the_environ_reads_back_as_the_request_that_was_sent() -> None:
    scope = _Scope(
        path="/api/v1/customers/日本",
        query_string="search=%20x&limit=5",
        method="POST",
        client="[::1]:50123",
        server="[::1]:8080",
        pairs=[("content-type", "application/json"), ("content-length", "2"), ("x-tag", "a"), ("x-tag", "b")],
    )
    request = Request(wsgi_environ(scope, b"{}"))
    assert request.path == "/api/v1/customers/日本"
    assert request.args.to_dict() == {"search": " x", "limit": "5"}
    assert request.method == "POST"
    assert request.remote_addr == "::1"
    assert request.environ["SERVER_PORT"] == "8080"
    assert request.content_type == "application/json"
    assert request.content_length == 2
    assert request.headers["X-Tag"] == "a, b"
    assert request.get_data() == b"{}"


def test_the_headers_noted_for_the_journal_read_as_the_environ_says_them() -> None:
    """The journal takes the headers the front noted as sent; they read as a scan of the environ would."""
    pairs = [("content-type", "application/json"), ("x-request-id", "r1"), ("x-tag", "a"), ("x_under", "u")]
    environ = wsgi_environ(_Scope(path="/", pairs=[*pairs, ("x-tag", "b")]), b"")
    noted = headers_of(environ)
    assert noted == [
        ("Content-Type", "application/json"),
        ("X-Request-Id", "r1"),
        ("X-Tag", "a"),
        ("X-Under", "u"),
        ("X-Tag", "b"),
    ]
    scanned = headers_of({key: value for key, value in environ.items() if key != SENT_HEADERS})
    assert (
        redact(noted)
        == redact(scanned)
        == {
            "Content-Type": "application/json",
            "X-Request-Id": "r1",
            "X-Tag": "a, b",
            "X-Under": "u",
        }
    )


def test_the_apps_status_headers_and_whole_body_come_back() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return Response([b"one ", b"two"], status=201, headers={"X-Id": "7"})(environ, start_response)

    status, headers, body = call_wsgi(app, wsgi_environ(_Scope(path="/"), b""))
    assert status == 201
    assert ("X-Id", "7") in headers
    assert body == b"one two"


class _Protocol:
    """An RSGI protocol that delivers a body in chunks and keeps the answer."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.answer: tuple[int, list[tuple[str, str]], bytes] | None = None

    def __aiter__(self) -> Any:
        async def chunks() -> Any:
            for chunk in self.chunks:
                yield chunk

        return chunks()

    async def __call__(self) -> bytes:  # the whole body at once (Granian reads up to the announced length)
        return b"".join(self.chunks)

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answer = (status, headers, body)

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any:
        raise AssertionError("not dropped")


def _received_length(path: str, authorization: str | None = None) -> int:
    """How much of a 300-byte body the app got at ``path`` (the limit is 100; 1000 for /big, for the admin)."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return Response(str(len(environ["wsgi.input"].read())))(environ, start_response)

    adapter = WsgiOverRsgi(
        app,
        threads=1,
        max_body_bytes=100,
        body_timeout=5,
        body_limits={"/big": 1000},
        admits_large_body=lambda header: header == "Bearer admin",
    )
    protocol = _Protocol([b"x" * 60] * 5)
    pairs = [("content-length", "300")] + ([("authorization", authorization)] if authorization else [])
    scope = _Scope(path=path, method="PUT", pairs=pairs)
    loop = asyncio.new_event_loop()
    try:
        adapter.__rsgi_init__(loop)
        loop.run_until_complete(adapter.__rsgi__(scope, protocol))  # type: ignore[arg-type]
        adapter.__rsgi_del__(loop)
    finally:
        loop.close()
    assert protocol.answer is not None
    return int(protocol.answer[2])


def test_a_path_with_its_own_body_limit_takes_a_bigger_body_from_the_admin_only() -> None:
    assert _received_length("/big", "Bearer admin") == 300
    assert _received_length("/other", "Bearer admin") == 120  # one chunk past the limit: the app answers 413
    assert _received_length("/big") == 120  # a stranger cannot make a worker hold the bigger body
    assert _received_length("/big", "Bearer sk_test_someone") == 120
