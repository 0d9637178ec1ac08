"""The suite's webhook receiver: a threaded HTTP server owned by one run, recording every delivery it gets.

Each subscription the suite makes gets its own route (``/<run marker>/<name>``) and a responder that decides the
status of each request: 200 for the main subscription, 500 for the first attempts of the retry check's delivery.
Nothing is global: the server, its thread, the routes and what they received belong to one ``Receiver``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from contracts.target import parse_listen

MAX_BODY = 5 * 1024 * 1024  # a delivery above this is answered 413 and recorded without its body
READ_TIMEOUT = 10.0  # seconds a sender may take to send one request


@dataclass(frozen=True)
class Received:
    """One request that reached a route: what came and what the receiver answered."""

    route: str
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    at: float  # wall clock (Unix seconds), for timestamps
    mono: float  # monotonic seconds, for gaps between attempts
    status: int  # what the receiver answered

    def header(self, name: str) -> str | None:
        """A header's value (case-insensitive; the first when repeated)."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @cached_property
    def json(self) -> Any:
        """The body as JSON, or None."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def event(self) -> str:
        """The event name the body (else a ``*-event`` header) gives ("" when none)."""
        body = self.json
        if isinstance(body, dict) and isinstance(body.get("event"), str):
            return str(body["event"])
        return next((value for key, value in self.headers if key.lower().endswith("-event")), "")

    @property
    def event_id(self) -> str:
        """The body's ``id`` ("" when none)."""
        body = self.json
        return str(body.get("id")) if isinstance(body, dict) and body.get("id") is not None else ""

    @property
    def record_id(self) -> Any:
        """``data.id`` of the body (None when none)."""
        body = self.json
        data = body.get("data") if isinstance(body, dict) else None
        return data.get("id") if isinstance(data, dict) else None


Responder = Callable[["Received"], int]  # given the request (status not yet known, 0), the status to answer


@dataclass
class _Route:
    responder: Responder
    received: list[Received] = field(default_factory=list)


class Receiver:
    """An HTTP server on ``listen`` (``HOST:PORT``) that the target reaches at ``public_url``."""

    def __init__(self, listen: str, public_url: str | None = None) -> None:
        self.listen = listen
        self.host, self.port = "127.0.0.1", 0  # read from ``listen`` by ``start``
        self._public = public_url.rstrip("/") if public_url else None
        self._routes: dict[str, _Route] = {}
        self._strays: list[Received] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # life cycle

    def start(self) -> Receiver:
        """Bind and serve in a daemon thread (OSError: the address cannot be bound; ValueError: not HOST:PORT)."""
        self.host, self.port = parse_listen(self.listen)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = _Server((self.host, self.port), _Handler, family=family, receiver=self)
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="contracts-webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # routes

    @property
    def base_url(self) -> str:
        """Where the target must POST: ``--webhook-public-url``, else ``http://HOST:PORT``."""
        if self._public:
            return self._public
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)  # noqa: S104
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def add(self, route: str, responder: Responder) -> str:
        """Serve ``route`` (``/a/b``) with ``responder``; its public URL."""
        self._routes[route] = _Route(responder)
        return self.base_url + route

    def received(self, route: str) -> list[Received]:
        """What reached ``route`` so far, in arrival order."""
        with self._changed:
            found = self._routes.get(route)
            return list(found.received) if found else []

    def strays(self) -> list[Received]:
        """Requests to no route of ours."""
        with self._changed:
            return list(self._strays)

    def wait(self, ready: Callable[[], bool], deadline: float) -> bool:
        """Block until ``ready()`` holds (re-checked after every request) or ``deadline`` (monotonic) passes."""
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.5))
            return True

    # called by the handler thread

    def record(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes, *, too_big: bool) -> int:
        """Answer one request: the route's responder decides (404 off our routes); keep it."""
        prefix = urlsplit(self.base_url).path.rstrip("/")
        route_path = urlsplit(path).path
        route_path = route_path.removeprefix(prefix) if prefix and route_path.startswith(prefix) else route_path
        request = Received(route_path, method, tuple(headers), body, time.time(), time.monotonic(), 0)
        with self._changed:
            found = self._routes.get(route_path)
            if found is None:
                status = 404
            elif too_big:
                status = 413
            else:
                try:
                    status = found.responder(request)
                except Exception:  # a responder bug must not hang the sender; the check sees the 500
                    status = 500
            kept = replace(request, status=status)
            (found.received if found is not None else self._strays).append(kept)
            self._changed.notify_all()
        return status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, family: int, receiver: Receiver
    ) -> None:
        self.address_family = family
        self.receiver = receiver
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = READ_TIMEOUT
    server_version = "contracts-webhook-receiver"

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body, too_big = self._body()
        status = self.server.receiver.record(self.command, self.path, list(self.headers.items()), body, too_big=too_big)
        text = {200: b"ok\n", 500: b"failing on purpose: the contracts webhooks suite checks retries\n"}.get(
            status, b"no such webhook route\n" if status == 404 else b"\n"
        )
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(text)
        self.close_connection = True

    def _body(self) -> tuple[bytes, bool]:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunked()
        try:
            size = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            size = 0
        if size > MAX_BODY:
            return b"", True
        return self.rfile.read(size) if size > 0 else b"", False

    def _chunked(self) -> tuple[bytes, bool]:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).strip()
            size = int(line.split(b";")[0] or b"0", 16)
            if size == 0:
                self.rfile.readline(1024)
                return b"".join(parts), False
            total += size
            if total > MAX_BODY:
                return b"", True
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)

    def log_message(self, format: str, *args: Any) -> None:
        pass
