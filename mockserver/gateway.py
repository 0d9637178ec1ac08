"""The WSGI front door: spec operations go straight to the operation view; everything else to Flask.

Flask's request context, signals and response object cost more per request than the whole API
behind them, so a request whose path and method match a spec operation is routed with Werkzeug's
own router and answered from plain values. Anything else (the docs, the spec documents, unknown
paths, wrong methods, redirects for a trailing slash) goes to the Flask app, which answers it as
before, in the API's error shape.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, RequestRedirect

from mockserver.accesslog import AccessEntry, AccessLog
from mockserver.incoming import IncomingRequest, OperationRequest
from mockserver.platform.journal import Journal
from mockserver.routing import CONVERTERS, MatchingRule
from mockserver.rsgi import CAN_DROP, DROP_CONNECTION, SENT_HEADERS, shown_header_name
from mockserver.views import CONTROL_REFRESHED, Answer, OperationView

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_NO_BODY_STATUSES = frozenset({204, 304})
DROPPED_BEFORE = "An injected fault dropped the connection before the request ran (status 0: no answer)."
DROPPED_AFTER = "An injected fault dropped the connection after the request ran: the client never got this answer."


@functools.lru_cache(maxsize=1024)
def _header_name(key: str) -> str:
    """``HTTP_X_REQUEST_ID`` -> ``X-Request-Id``: the name a header is journaled under (few names recur)."""
    return shown_header_name(key.removeprefix("HTTP_"))


def headers_of(environ: WSGIEnvironment) -> list[tuple[str, str]]:
    """The request's headers for the journal: as the RSGI front noted them, else read from the environ."""
    sent: list[tuple[str, str]] | None = environ.get(SENT_HEADERS)
    if sent is not None:
        return sent
    pairs = [(_header_name(key), value) for key, value in environ.items() if key.startswith("HTTP_")]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            pairs.append((_header_name(key), environ[key]))
    return pairs


def _keep(
    journal: Journal,
    request: IncomingRequest,
    arrived: float,
    status: int,
    latency: float,
    request_id: str,
    **more: Any,
) -> None:
    """Put one served request in the journal: what every request has, and ``more`` an operation knows."""
    journal.served(
        at=arrived,
        method=request.method,
        path=request.path,
        query=request.query_string.decode("latin-1"),
        status=status,
        latency_ms=latency,
        request_id=request_id,
        request_headers=headers_of(request.environ),
        **more,
    )


def status_line(status: int) -> str:
    """``201 CREATED``: the status line Werkzeug itself would send."""
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


class Gateway:
    """A WSGI app that serves spec operations itself and hands every other request to ``fallback``."""

    def __init__(
        self,
        view: OperationView,
        rules: Iterable[tuple[str, Iterable[str]]],
        fallback: WSGIApplication,
        *,
        max_body_bytes: int | None,
        access_log: AccessLog | None = None,
        journal: Journal | None = None,
        unjournaled: str = "/__sandbox",
        now: Callable[[], float] = time.time,
    ) -> None:
        self._view = view
        self._log = access_log
        self._journal = journal
        self._unjournaled = unjournaled
        self._now = now  # the sandbox's clock: the journal says when a request arrived by it
        self.fallback = fallback
        self._max_body_bytes = max_body_bytes
        url_map = Map(
            [MatchingRule(rule, endpoint=rule, methods=[*methods, "OPTIONS"]) for rule, methods in rules],
            converters=dict(CONVERTERS),
        )
        self._router = url_map.bind("sandbox")  # matching reads the path and method only

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request (and log it, and keep it in the journal)."""
        began = time.perf_counter()
        request = OperationRequest(environ, self._max_body_bytes)
        try:
            rule, path_args = self._router.match(request.path, request.method)
        except (HTTPException, RequestRedirect):  # not an operation: Flask answers in the API's shape
            return self._fall_back(request, environ, start_response, began)
        journal = self._keeping()
        arrived = self._now() if journal is not None else 0.0
        answer = self._view.answer(request, str(rule), dict(path_args))
        latency = (time.perf_counter() - began) * 1000
        error = answer.error
        request_id = answer.request_id or answer.headers.get("X-Request-Id", "-")
        message = error.message if error else None
        if answer.drop:
            message = DROPPED_BEFORE if answer.status == 0 else DROPPED_AFTER
        if self._log is not None:
            self._log.write(
                AccessEntry(
                    request.method,
                    request.path,
                    answer.status,
                    latency,
                    request_id,
                    answer.key_name,
                    message,
                    error.errors if error else None,
                )
            )
        if journal is not None:
            _keep(
                journal,
                request,
                arrived,
                answer.status,
                latency,
                request_id,
                key_name=answer.key_name,
                operation_id=answer.operation_id,
                message=message,
                errors=error.errors if error else None,
                request_body=answer.request_body,
                response_body=answer.body,
            )
        if answer.drop:
            return self._drop(environ, start_response)
        return self._send(answer, request.method, start_response)

    def may_stall(self, environ: WSGIEnvironment) -> bool:
        """Whether this request may wait on purpose (a latency fault is set): the RSGI front then gives it a thread."""
        control = self._view.control
        control.refresh()
        environ[CONTROL_REFRESHED] = True
        return any(fault.get("kind") == "latency" for fault in control.document.get("faults") or ())

    def _keeping(self) -> Journal | None:
        """The journal, when it keeps anything (its size may change at run time)."""
        return self._journal if self._journal is not None and self._journal.size > 0 else None

    @staticmethod
    def _drop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Close the connection without an answer: the RSGI front drops it; another server sees the app fail."""
        if environ.get(CAN_DROP):
            environ[DROP_CONNECTION] = True
            start_response("200 OK", [("Content-Length", "1")])
            return []

        def broken() -> Iterable[bytes]:
            raise ConnectionAbortedError("a fault dropped this connection")
            yield b""  # pragma: no cover - makes this a generator

        start_response("200 OK", [("Content-Length", "1")])
        return broken()

    def _fall_back(
        self, request: IncomingRequest, environ: WSGIEnvironment, start_response: StartResponse, began: float
    ) -> Iterable[bytes]:
        """Let Flask answer, noting its status and request id for the log and the journal."""
        log = self._log
        journal = None if request.path.startswith(self._unjournaled) else self._keeping()
        if log is None and journal is None:
            return self.fallback(environ, start_response)
        arrived = self._now() if journal is not None else 0.0

        def noting(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
            request_id = next((value for name, value in headers if name.lower() == "x-request-id"), "-")
            code = int(status.split(" ", 1)[0])
            latency = (time.perf_counter() - began) * 1000
            if log is not None:
                log.write(AccessEntry(request.method, request.path, code, latency, request_id))
            if journal is not None:
                _keep(journal, request, arrived, code, latency, request_id)
            return start_response(status, headers, exc_info)

        return self.fallback(environ, noting)

    @staticmethod
    def _send(answer: Answer, method: str, start_response: StartResponse) -> Iterable[bytes]:
        headers = list(answer.headers.items())
        body = answer.body if answer.status not in _NO_BODY_STATUSES else None
        if body is not None:
            headers.append(("Content-Type", answer.content_type or "application/octet-stream"))
        if answer.status not in _NO_BODY_STATUSES:
            headers.append(("Content-Length", str(len(body or b""))))
        start_response(status_line(answer.status), headers)
        return [] if body is None or method == "HEAD" else [body]
