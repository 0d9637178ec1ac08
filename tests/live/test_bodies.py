"""Request bodies over real HTTP: one size limit whether the length is declared or the body is chunked."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
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
