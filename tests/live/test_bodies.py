"""Request bodies over real HTTP: one size limit however a body is sent, and deadlines for clients that stall."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests
from conftest import API, LiveServer, auth

pytestmark = pytest.mark.live

LIMIT = 1024 * 1024  # the default --max-body-bytes


def _post(server: LiveServer, body: bytes, *, chunked: bool) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {**auth(), "Content-Type": "application/json"}

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    try:
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            connection.request("POST", f"{API}/customers", body=pieces(), headers=headers, encode_chunked=True)
        else:
            connection.request("POST", f"{API}/customers", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _customer(size: int) -> bytes:
    """A valid customer body of exactly ``size`` bytes, padded with whitespace: any truncation breaks its JSON."""
    head, tail = b'{"name": "Big Body", "notes": "last"', b"}"
    return head + b" " * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_413_however_it_is_sent(live_server: LiveServer, chunked: bool) -> None:
    status, body = _post(live_server, _customer(LIMIT + 1), chunked=chunked)
    assert status == 413
    assert body["error"] == "payload_too_large"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_within_the_limit_is_read_whole_however_it_is_sent(live_server: LiveServer, chunked: bool) -> None:
    status, body = _post(live_server, _customer(LIMIT - 10), chunked=chunked)
    assert status == 201, body
    assert body["data"]["notes"] == "last"  # type: ignore[index]


# --- Clients that stall: each costs its own connection, never the server -------------------------

STALLED_HEAD = (
    "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
)


@pytest.fixture(scope="module", params=["1", "2"], ids=["1-thread", "2-threads"])
def timid_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """Few threads and short timeouts: a handful of stalled clients would be enough to occupy every thread."""
    server = LiveServer("--quiet", "--threads", request.param, "--body-timeout", "2", "--header-timeout", "2")
    yield server
    server.stop()


def _stall(server: LiveServer) -> socket.socket:
    """A client that announces a 1,000-byte body, sends 8 bytes of it and waits."""
    client = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    head = STALLED_HEAD.format(path=f"{API}/customers", auth=auth()["Authorization"])
    client.sendall(head.encode() + b'{"name":')
    return client


def _read_all(client: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def test_stalled_bodies_leave_the_server_answering_and_end_in_408(timid_server: LiveServer) -> None:
    stalled = [_stall(timid_server) for _ in range(10)]
    try:
        started = time.monotonic()
        health = requests.get(f"{timid_server.base}{API}/health", timeout=5)
        assert health.status_code == 200
        assert time.monotonic() - started < 1.5  # answered beside them, not after their timeout
        replies = [_read_all(client) for client in stalled]
    finally:
        for client in stalled:
            client.close()
    for reply in replies:
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"connection: close" in head.lower()
        error = json.loads(body)
        assert error["error"] == "request_timeout"
        assert "2 seconds" in error["message"]


def test_a_body_dripped_past_the_timeout_is_408_and_one_sent_in_time_is_read(timid_server: LiveServer) -> None:
    body = json.dumps({"name": "Dripped Slowly"}).encode()
    for pause, expected in ((0.05, b"HTTP/1.1 201"), (0.5, b"HTTP/1.1 408")):
        client = socket.create_connection(("127.0.0.1", timid_server.port), timeout=15)
        head = STALLED_HEAD.replace("1000", str(len(body))).format(
            path=f"{API}/customers", auth=auth()["Authorization"]
        )
        client.sendall(head.encode())
        try:
            for byte in body:
                try:
                    client.sendall(bytes([byte]))
                except OSError:  # the server answered and closed mid-drip
                    break
                time.sleep(pause)
            reply = client.recv(65536)
        finally:
            client.close()
        assert reply.startswith(expected), (pause, reply[:200])


@pytest.mark.parametrize("sent", [b"", b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"], ids=["idle", "half-headers"])
def test_idle_and_half_sent_headers_are_closed_after_the_header_timeout(timid_server: LiveServer, sent: bytes) -> None:
    client = socket.create_connection(("127.0.0.1", timid_server.port), timeout=15)
    try:
        client.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")  # one request: a kept-alive connection
        assert client.recv(65536).startswith(b"HTTP/1.1 200")
        client.sendall(sent)
        started = time.monotonic()
        assert client.recv(65536) == b""  # closed by the server ...
        assert time.monotonic() - started < 6  # ... after about --header-timeout, not never
    finally:
        client.close()
