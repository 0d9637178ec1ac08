"""Serve a WSGI app over Granian's RSGI: bodies arrive on the event loop under a deadline, then the app answers.

Under Granian's WSGI interface a thread reads the body itself, so a client that announces a body
and stalls holds that thread; eight of them froze the whole server. Here the body is read
asynchronously, bounded in size and time, and only a complete request ever reaches the app: on
the event loop itself when its kind has proved quick, else in a thread (``mockserver.dispatch``).
"""

from __future__ import annotations

import asyncio
import functools
import io
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

from mockserver.dispatch import CostModel, kind_of
from mockserver.handoff import LoopThreads
from mockserver.waits import descheduled_seconds, elsewhere_seconds, queued_seconds

# The environ key set (to the timeout in seconds) when a body did not arrive in time: the app answers 408.
BODY_TIMED_OUT = "mockserver.body_timed_out"
# Set by this front end: the app may ask for the connection to be dropped, by setting DROP_CONNECTION.
CAN_DROP = "mockserver.can_drop"
DROP_CONNECTION = "mockserver.drop_connection"
# The request's headers as sent, each (name as the journal shows it, value), in order: no scan of the environ.
SENT_HEADERS = "mockserver.sent_headers"
_DROP_ANNOUNCED = 64  # the length a dropped answer announces; one byte of it is sent before the connection closes

StartResponse = Callable[..., Callable[[bytes], object]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Reply = tuple[int, list[tuple[str, str]], bytes]


class _Headers(Protocol):
    def items(self) -> list[tuple[str, str]]: ...

    def get(self, key: str, default: Any = None) -> Any: ...


class _Scope(Protocol):
    proto: str
    http_version: str
    method: str
    path: str
    query_string: str
    scheme: str
    client: str
    server: str

    @property
    def headers(self) -> _Headers: ...


class _Protocol(Protocol):
    def __aiter__(self) -> Any: ...

    def __call__(self) -> Awaitable[bytes]: ...

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any: ...


class WsgiOverRsgi:
    """An RSGI application that reads each body with a deadline and a size cap, then runs the WSGI app.

    ``may_stall(environ)`` says when the app may wait on purpose (an injected latency): then the
    request goes to a thread, as do paths under ``threaded_prefixes`` (admin requests that wait on
    others). A path of ``body_limits`` takes its bigger body only from a caller whose Authorization
    header ``admits_large_body`` approves (the admin token), so no stranger can make a worker hold
    256 MiB; anyone else gets the ordinary limit. ``on_stop`` runs as the worker stops (to end what the
    app runs beside its requests).
    """

    def __init__(
        self,
        app: WsgiApp,
        *,
        threads: int,
        max_body_bytes: int,
        body_timeout: float,
        body_limits: Mapping[str, int] | None = None,
        may_stall: Callable[[dict[str, Any]], bool] | None = None,
        threaded_prefixes: Sequence[str] = (),
        costs: CostModel | None = None,
        admits_large_body: Callable[[str | None], bool] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._app = app
        self._on_stop = on_stop
        self._max_body_bytes = max_body_bytes
        self._body_limits = dict(body_limits or {})  # paths that take bigger bodies (a state import)
        self._body_timeout = body_timeout
        self._threads = threads
        self._pool: LoopThreads | None = None
        self._may_stall = may_stall
        self._threaded_prefixes = tuple(threaded_prefixes)
        self.costs = costs if costs is not None else CostModel()
        self._admits_large_body = admits_large_body

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this once per worker before the first request."""
        self._pool = LoopThreads(loop, self._threads, "sandbox")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Granian calls this as the worker stops: requests not yet started are dropped, then ``on_stop`` runs."""
        if self._pool is not None:
            self._pool.stop()
        if self._on_stop is not None:
            self._on_stop()

    async def __rsgi__(self, scope: _Scope, protocol: _Protocol) -> None:
        """Answer one HTTP request."""
        if scope.proto != "http":
            return  # websockets: nothing here speaks them, and an unaccepted socket is refused
        path, sent_headers = scope.path, scope.headers  # each read of a scope's field makes a new object
        body, timed_out = await self._read_body(sent_headers, protocol, self._body_limit(path, sent_headers))
        environ = wsgi_environ(scope, body)
        environ[CAN_DROP] = True
        if timed_out:
            environ[BODY_TIMED_OUT] = self._body_timeout
        kind = kind_of(scope.method, path, scope.query_string)
        on_loop = self._runs_inline(kind, path, environ)
        if on_loop:
            (status, headers, payload), seconds = timed_call_wsgi(self._app, environ, on_loop=True)
        else:
            if self._pool is None:
                raise RuntimeError("the RSGI server never called __rsgi_init__")
            reply, seconds = await self._pool.run(partial(timed_call_wsgi, self._app, environ, on_loop=False))
            status, headers, payload = reply
        self.costs.observe(kind, seconds, on_loop=on_loop)
        if environ.get(DROP_CONNECTION):
            await drop(protocol)
            return
        protocol.response_bytes(status, headers, payload)

    def _body_limit(self, path: str, headers: _Headers) -> int:
        """The most body this request may send: a path's own limit only for a caller allowed it."""
        larger = self._body_limits.get(path)
        if larger is None:
            return self._max_body_bytes
        admitted = self._admits_large_body is None or self._admits_large_body(headers.get("authorization"))
        return larger if admitted else self._max_body_bytes

    def _runs_inline(self, kind: str, path: str, environ: dict[str, Any]) -> bool:
        """Whether this request may run on the event loop: a quick kind, and nothing that waits on purpose."""
        if not self.costs.quick(kind) or path.startswith(self._threaded_prefixes):
            return False
        if self._may_stall is None:
            return True
        try:
            return not self._may_stall(environ)
        except Exception:  # a store that fails: in a thread, the app answers it in the API's error shape
            return False

    async def _read_body(self, headers: _Headers, protocol: _Protocol, limit: int) -> tuple[bytes, bool]:
        """The body up to one byte past the limit (so the app can say 413), and whether it stopped short in time.

        A body over the limit is still received up to the limit: a client that is busy sending it
        would otherwise have its connection reset before it reads the 413. A body whose length is
        announced within the limit (no chunks: they could run past it) is read in one piece, which
        costs the event loop one hand-over from Granian's threads instead of two (a request with a
        body: 13-30 us of server CPU less, and 4 of 13 context switches of a create with two workers).
        """
        length, chunked = headers.get("content-length"), headers.get("transfer-encoding") is not None
        if length is None and not chunked:
            return b"", False
        if not chunked and length is not None and length.isascii() and length.isdigit() and int(length) <= limit:
            try:
                async with asyncio.timeout(self._body_timeout):
                    return await protocol(), False
            except TimeoutError:
                return b"", True
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._body_timeout):
                async for chunk in protocol:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        break
        except TimeoutError:
            return b"".join(chunks), True
        return b"".join(chunks), False


async def drop(protocol: _Protocol) -> None:
    """Break the connection mid-answer: a longer body is announced than is sent, so every client sees it fail.

    RSGI has no way to close a connection before the status line; this is the closest a client can
    tell from a connection that died (httpx: RemoteProtocolError; requests: ChunkedEncodingError).
    """
    transport = protocol.response_stream(200, [("content-length", str(_DROP_ANNOUNCED))])
    await transport.send_bytes(b" ")


def wsgi_environ(scope: _Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an RSGI scope and its (already received) body."""
    server_host, server_port = _host_and_port(scope.server)
    client_host, client_port = _host_and_port(scope.client)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_host,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client_host,
        "REMOTE_PORT": client_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    sent: list[tuple[str, str]] = []
    for name, value in scope.headers.items():
        key, shown = _header_keys(name)
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
        sent.append((shown, value))
    environ[SENT_HEADERS] = sent
    return environ


@functools.lru_cache(maxsize=1024)
def environ_key(name: str) -> str:
    """``X-Request-Id`` -> ``HTTP_X_REQUEST_ID``: where a header's value sits in the environ (few names recur)."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


def shown_header_name(name: str) -> str:
    """``x-request-id`` (or ``X_REQUEST_ID``) -> ``X-Request-Id``: the name the journal shows a header under."""
    return name.replace("_", "-").title()


@functools.lru_cache(maxsize=1024)
def _header_keys(name: str) -> tuple[str, str]:
    """``x-request-id`` -> (``HTTP_X_REQUEST_ID``, ``X-Request-Id``): its environ key, and its name as shown."""
    return environ_key(name), shown_header_name(name)


def call_wsgi(app: WsgiApp, environ: dict[str, Any]) -> Reply:
    """Run the WSGI app to the end and return its status, headers and whole body."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        started[:] = [status, headers]
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    return int(status.split(" ", 1)[0]), headers, b"".join(written)


def timed_call_wsgi(app: WsgiApp, environ: dict[str, Any], *, on_loop: bool) -> tuple[Reply, float]:
    """``call_wsgi`` and its cost: on the event loop, the wall time it held the loop by itself; CPU time in the pool.

    In the pool, threads wait for each other's interpreter lock, so wall time there says more about
    the load than about the request; its CPU time, and its waits for work it handed to a helper
    process, are what it would cost the loop. On the loop, time queued behind another writer and
    time the machine ran something else are left out (``waits``).
    """
    if not on_loop:
        began, elsewhere = time.thread_time(), elsewhere_seconds()
        reply = call_wsgi(app, environ)
        return reply, time.thread_time() - began + elsewhere_seconds() - elsewhere
    began, queued, descheduled = time.perf_counter(), queued_seconds(), descheduled_seconds()
    reply = call_wsgi(app, environ)
    waited = queued_seconds() - queued + descheduled_seconds() - descheduled
    return reply, max(0.0, time.perf_counter() - began - waited)


def _host_and_port(address: str) -> tuple[str, str]:
    """Split Granian's ``host:port`` (``[v6]:port`` for IPv6) into WSGI's two strings."""
    host, _, port = address.rpartition(":")
    return host.strip("[]") or address, port
