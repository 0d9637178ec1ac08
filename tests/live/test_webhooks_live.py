"""Webhooks across processes: two workers send each delivery once, and a restart loses none.

Runs on a SQLite file and, when one is configured (tests/postgres.py), on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from conftest import API, LiveServer, auth, free_port

pytestmark = pytest.mark.live


class Inbox:
    """A real receiver on a chosen port: keeps the body of every delivery."""

    def __init__(self, port: int) -> None:
        self.bodies: list[dict[str, object]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                inbox.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=["sqlite-file", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite-file":
        return str(tmp_path / "state.db")
    from postgres import fresh_database

    return fresh_database(request)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    receiver = Inbox(free_port())
    yield receiver
    receiver.close()


def subscribe(server: LiveServer, url: str) -> None:
    response = requests.post(
        f"{server.base}{API}/webhooks", json={"url": url, "events": ["customer.created"]}, headers=auth(), timeout=10
    )
    assert response.status_code == 201, response.text


def create_customer(server: LiveServer, name: str) -> None:
    response = requests.post(f"{server.base}{API}/customers", json={"name": name}, headers=auth(), timeout=10)
    assert response.status_code == 201, response.text


def test_two_workers_send_each_delivery_once(database: str, inbox: Inbox) -> None:
    server = LiveServer("--quiet", "--db", database, "--workers", "2")
    try:
        subscribe(server, inbox.url)
        for n in range(20):
            create_customer(server, f"Twice {n}")
        assert len(inbox.wait_for(20)) >= 20
        time.sleep(1.0)  # a second sender would have sent its copy by now
        ids = [body["id"] for body in inbox.bodies]
        assert len(ids) == 20
        assert len(set(ids)) == 20
    finally:
        server.stop()


def test_a_delivery_queued_before_a_restart_is_sent_after_it(database: str) -> None:
    port = free_port()
    first = LiveServer("--quiet", "--db", database)
    try:
        subscribe(first, f"http://127.0.0.1:{port}/hooks")
        create_customer(first, "Before Restart")  # nobody listens yet: the first attempt fails
    finally:
        first.stop()
    receiver = Inbox(port)
    second = LiveServer("--quiet", "--db", database)
    try:
        [body] = receiver.wait_for(1)
        assert body["event"] == "customer.created"
        assert body["data"]["name"] == "Before Restart"  # type: ignore[index]
    finally:
        second.stop()
        receiver.close()
