"""Faulty variants of the sandbox: the real app with exactly one injected defect, served on a free port.

Each variant is one narrow, realistic bug an implementation of openapi.yaml could have, and the
contract rule that must catch it. A defect is injected into one app instance only, either as WSGI
middleware around it or through the instance's own engine and keyring, never by patching module
globals, so variants cannot leak into each other (or into the unmodified sandbox).

    with serve(VARIANTS["wrong_total"]) as base_url:   # http://127.0.0.1:<port>/api/v1
        report = contracts.run(Target(base_url, SPEC, suites=("rules",)))
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from conftest import yaml_text
from flask import Flask
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response
from wsgi_server import serve_wsgi

from mockserver.app import create_app
from mockserver.errors import Forbidden
from mockserver.settings import Settings

API = "/api/v1"
WSGIEnviron = dict[str, Any]
WSGIApp = Callable[[WSGIEnviron, Callable[..., Any]], Iterable[bytes]]
_ITEM = re.compile(rf"^{re.escape(API)}/[a-z-]+/\d+$")


@dataclass(frozen=True)
class Variant:
    """One injected defect and what must catch it."""

    name: str
    defect: str
    rules: tuple[str, ...]  # the run must break (at least) one of these rules
    suites: tuple[str, ...]  # the suites that are enough to catch it
    inject: Callable[[Flask], None]
    paths: tuple[str, ...] = ()  # spec paths a conformance run can be limited to (empty: the whole spec)
    settings: tuple[tuple[str, Any], ...] = ()  # sandbox settings of this instance only (e.g. webhook_attempts)

    @property
    def rule(self) -> str:
        """The rule the variant is named after (the first one)."""
        return self.rules[0]


def settings() -> Settings:
    """The sandbox settings of every variant: seed 1, lenient, no rate limit, retries 100x sooner, no access log."""
    return Settings(seed=1, strict=False, rate_limit=10**9, webhook_retry_scale=0.01, quiet=True)


# The unmodified sandbox's retries in a run of every suite: its dispatcher works through thousands of
# attempts to the spec's example webhook URL (a closed port the fuzzing subscribed); on a slow machine
# the retry check's gaps may grow only after 15 s. The wait ends as soon as they have grown.
WHOLE_RUN_WEBHOOK_WAIT = 45.0


@contextmanager
def serve(variant: Variant | None = None, config: Settings | None = None) -> Iterator[str]:
    """Serve a fresh sandbox (with the variant's defect, if any; ``config`` or ``settings()``), yield its API URL."""
    chosen = config or settings()
    if variant is not None and variant.settings:
        chosen = dataclasses.replace(chosen, **dict(variant.settings))
    late = Late()
    try:
        with serve_wsgi(late, name=f"sandbox-{variant.name if variant else 'ok'}") as root:
            # Its links use the URL it is served at (the free port is known only now), as --port 0 does.
            late.app = create_app(dataclasses.replace(chosen, public_url=chosen.public_url or root))
            if variant is not None:
                variant.inject(late.app)
            yield f"{root}{API}"
    finally:
        if late.app is not None:
            sandbox(late.app)["webhooks"].stop()  # no delivery thread of this instance outlives it


def write_spec(folder: Path, spec: dict[str, Any]) -> Path:
    """``spec`` written as YAML into ``folder``; its path."""
    path = folder / "spec.yaml"
    path.write_text(yaml_text(spec), encoding="utf-8")
    return path


@contextmanager
def serve_spec(
    path: Path, middleware: Callable[[Any], Middleware] | None = None, name: str = "sandbox-foreign"
) -> Iterator[str]:
    """The sandbox serving the spec at ``path`` (wrapped in ``middleware``, if any); yields its root URL."""
    late = Late()
    try:
        with serve_wsgi(late, name=name) as root:
            late.app = create_app(Settings(spec_path=path, seed=1, rate_limit=10**9, quiet=True, public_url=root))
            if middleware is not None:
                late.app.wsgi_app = middleware(late.app.wsgi_app)  # type: ignore[method-assign]
            yield root
    finally:
        if late.app is not None:
            sandbox(late.app)["webhooks"].stop()


# --- WSGI plumbing --------------------------------------------------------------------------------------


class Late:
    """The app a server answers with, set once the server listens (the sandbox's public URL needs its port)."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: WSGIEnviron, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.app is None:
            raise RuntimeError("the sandbox is still being built")
        return self.app(environ, start_response)


class Middleware:
    """Base WSGI middleware: ``handle`` sees the request and may call the app, any number of times."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnviron, start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self.handle(Request(environ, shallow=True), environ)
        return response(environ, start_response)

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        return self.forward(environ)

    def forward(self, environ: WSGIEnviron) -> Response:
        """Run the wrapped app on ``environ`` and buffer its response."""
        return Response.from_app(self.app, environ, buffered=True)

    def subrequest(self, request: Request, method: str, query: list[tuple[str, str]] | None = None) -> Response:
        """The same path and headers, another method (and query), answered by the wrapped app."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-length", "content-type")}
        builder = EnvironBuilder(
            path=request.path,
            method=method,
            headers=headers,
            query_string=urlencode(query if query is not None else list(request.args.items(multi=True))),
        )
        try:
            return self.forward(builder.get_environ())
        finally:
            builder.close()


def with_query(environ: WSGIEnviron, pairs: list[tuple[str, str]]) -> WSGIEnviron:
    """A copy of ``environ`` with another query string."""
    return {**environ, "QUERY_STRING": urlencode(pairs)}


def json_of(response: Response) -> Any:
    """A response's JSON body, or None."""
    if not (response.mimetype or "").endswith("json"):
        return None
    try:
        return json.loads(response.get_data())
    except ValueError:
        return None


def set_json(response: Response, body: Any) -> Response:
    """Replace a response's JSON body (Content-Length follows)."""
    response.set_data(json.dumps(body))
    return response


def wrap(app: Flask, middleware: Callable[[WSGIApp], Middleware]) -> None:
    """Put a middleware around one app instance."""
    app.wsgi_app = middleware(app.wsgi_app)  # type: ignore[method-assign]


def sandbox(app: Flask) -> dict[str, Any]:
    """The instance's engine, keyring, fixtures, ..."""
    parts: dict[str, Any] = app.extensions["sandbox"]
    return parts


# --- the defects ----------------------------------------------------------------------------------------


def inject_wrong_total(app: Flask) -> None:
    """Invoices: the stored total (and what is due) is one cent more than the items add up to."""

    def off_by_a_cent(invoice: dict[str, Any], tenant: Any, clock: Any) -> None:
        if invoice.get("paid_status") == "UNPAID" and isinstance(invoice.get("total"), int):
            invoice["total"] += 1
            invoice["due_amount"] = invoice["total"]

    sandbox(app)["engine"].hooks.add_derive("invoices", off_by_a_cent)


class PageOverlap(Middleware):
    """Every page after the first starts with the last record of the previous page (and loses its own last)."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        page = request.args.get("page", "1")
        if request.method != "GET" or not page.isdigit() or int(page) < 2 or response.status_code != 200:
            return response
        body = json_of(response)
        if not (isinstance(body, dict) and isinstance(body.get("data"), list) and "meta" in body and body["data"]):
            return response
        query = [(k, v) for k, v in request.args.items(multi=True) if k != "page"] + [("page", str(int(page) - 1))]
        previous = json_of(self.subrequest(request, "GET", query))
        if isinstance(previous, dict) and previous.get("data"):
            body["data"] = [previous["data"][-1], *body["data"][:-1]]
        return set_json(response, body)


class LeakOtherCompany(Middleware):
    """GET of a single record that the caller's company lacks falls back to any company that has it."""

    def __init__(self, app: WSGIApp, keys: list[str]) -> None:
        super().__init__(app)
        self.keys = keys

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        if request.method != "GET" or response.status_code != 404 or not _ITEM.match(request.path):
            return response
        for key in self.keys:
            retry = self.forward({**environ, "HTTP_AUTHORIZATION": f"Bearer {key}"})
            if retry.status_code == 200:
                return retry
        return response


def inject_bola_leak(app: Flask) -> None:
    """Single-record reads ignore the tenant: another company's record is returned instead of 404."""
    keys = [key.key for company in sandbox(app)["fixtures"].companies for key in company.keys if "*" in key.scopes]
    wrap(app, lambda inner: LeakOtherCompany(inner, keys))


def inject_missing_scope_check(app: Flask) -> None:
    """PATCH /items/{id} forgets its items:write scope check: any valid key of the company may update items."""
    keyring = sandbox(app)["keyring"]
    checked = keyring.authenticate

    def authenticate(operation: Any, headers: Any, query: Any, cookies: Any) -> Any:
        try:
            return checked(operation, headers, query, cookies)
        except Forbidden:
            if operation.operation_id != "updateItem":
                raise
            token = str(headers.get("Authorization") or "").partition(" ")[2].strip()
            return keyring.identify(token)

    keyring.authenticate = authenticate


def inject_password_echo(app: Flask) -> None:
    """GET /users/{id} shows the stored (hashed) password, a writeOnly field."""
    engine = sandbox(app)["engine"]
    engine.hidden["getUser"] = frozenset()
    engine.only.pop("getUser", None)  # the closed User schema would also leave the password out


class ClampLimit(Middleware):
    """A list ``limit`` above 100 is silently clamped to 100 instead of being a 400."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        limit = request.args.get("limit", "")
        if request.method == "GET" and limit.isdigit() and int(limit) > 100:
            pairs = [(k, "100" if k == "limit" else v) for k, v in request.args.items(multi=True)]
            return self.forward(with_query(environ, pairs))
        return self.forward(environ)


class Rewrite(Middleware):
    """Rewrite the responses of one GET path."""

    def __init__(self, app: WSGIApp, path: str, change: Callable[[Response], Response]) -> None:
        super().__init__(app)
        self.path = path
        self.change = change

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        if request.method == "GET" and request.path == f"{API}{self.path}":
            return self.change(response)
        return response


def inject_undocumented_status(app: Flask) -> None:
    """GET /units answers 203 Non-Authoritative Information, which the spec does not document."""

    def status_203(response: Response) -> Response:
        if response.status_code == 200:
            response.status_code = 203
        return response

    wrap(app, lambda inner: Rewrite(inner, "/units", status_203))


def inject_wrong_type(app: Flask) -> None:
    """GET /currencies returns each currency's integer ``precision`` as a string."""

    def precision_as_string(response: Response) -> Response:
        body = json_of(response)
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            for currency in body["data"]:
                if isinstance(currency, dict) and "precision" in currency:
                    currency["precision"] = str(currency["precision"])
            set_json(response, body)
        return response

    wrap(app, lambda inner: Rewrite(inner, "/currencies", precision_as_string))


def inject_missing_header(app: Flask) -> None:
    """GET /payment-methods drops the required X-RateLimit-Remaining header."""

    def drop_header(response: Response) -> Response:
        response.headers.pop("X-RateLimit-Remaining", None)
        return response

    wrap(app, lambda inner: Rewrite(inner, "/payment-methods", drop_header))


class IgnoreFilter(Middleware):
    """GET /invoices ignores its ``status`` filter (every status comes back)."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if request.method == "GET" and request.path == f"{API}/invoices" and "status" in request.args:
            pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "status"]
            return self.forward(with_query(environ, pairs))
        return self.forward(environ)


class SoftDelete(Middleware):
    """DELETE answers 204, but the record stays readable by GET (a soft delete that leaks)."""

    def __init__(self, app: WSGIApp) -> None:
        super().__init__(app)
        self.ghosts: dict[tuple[str, str], Response] = {}
        self.lock = threading.Lock()

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        key = (request.headers.get("Authorization", ""), request.path)
        if request.method == "DELETE" and _ITEM.match(request.path):
            before = self.subrequest(request, "GET", [])
            response = self.forward(environ)
            if response.status_code in (200, 204) and before.status_code == 200:
                with self.lock:
                    self.ghosts[key] = before
            return response
        response = self.forward(environ)
        if request.method == "GET" and response.status_code == 404:
            with self.lock:
                ghost = self.ghosts.get(key)
            if ghost is not None:
                return Response(ghost.get_data(), status=200, headers=list(response.headers.items()))
        return response


def inject_broken_transition(app: Flask) -> None:
    """POST /invoices/{id}/send is allowed from every status (a SENT, VIEWED or COMPLETED invoice is sent again)."""
    engine = sandbox(app)["engine"]
    send = next(op for op in engine.index.operations if op.operation_id == "sendInvoice")
    transition = dict(send.extensions["x-sandbox-transition"])
    transition["from"] = ["DRAFT", "SENT", "VIEWED", "OVERDUE", "COMPLETED"]
    send.extensions["x-sandbox-transition"] = transition


def inject_expired_key_accepted(app: Flask) -> None:
    """Expired API keys keep working (the expiry is never checked)."""
    keyring = sandbox(app)["keyring"]
    table = keyring._by_digest
    for digest, credential in list(table.items()):
        if credential.expires_at is not None:
            table[digest] = dataclasses.replace(credential, expires_at=None)


class StoreCreatedAt(Middleware):
    """POST /customers keeps a client-sent ``created_at`` (a readOnly field) instead of the server's."""

    def __init__(self, app: WSGIApp, engine: Any) -> None:
        super().__init__(app)
        self.engine = engine

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if request.method != "POST" or request.path != f"{API}/customers":
            return self.forward(environ)
        raw = Request(environ).get_data(cache=True)
        try:
            sent = json.loads(raw)
        except ValueError:
            sent = None
        if not (isinstance(sent, dict) and "created_at" in sent):
            return self.forward({**environ, "wsgi.input": _Body(raw)})
        forged = sent.pop("created_at")
        body = json.dumps(sent).encode()
        response = self.forward({**environ, "wsgi.input": _Body(body), "CONTENT_LENGTH": str(len(body))})
        created = json_of(response)
        if response.status_code == 201 and isinstance(created, dict):
            record = created["data"]
            with self.engine.store.tenant(record["company_id"]) as tenant:
                stored = tenant.get("customers", record["id"])
                stored = {**stored, "created_at": forged}
                tenant.put("customers", record["id"], stored)
            record["created_at"] = forged
            set_json(response, created)
        return response


class _Body:
    """A replayable wsgi.input."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else self.position + size
        chunk = self.data[self.position : end]
        self.position += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


class ForgeWebhookSecret(Middleware):
    """createWebhook returns a secret other than the one deliveries are signed with (signatures never verify)."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        if request.method != "POST" or request.path != f"{API}/webhooks" or response.status_code != 201:
            return response
        body = json_of(response)
        if isinstance(body, dict) and isinstance(body.get("data"), dict) and body["data"].get("secret"):
            body["data"]["secret"] = (
                "whsec_" + base64.b64encode(hashlib.sha256(b"not the signing key").digest()).decode()
            )
            set_json(response, body)
        return response


def never_emitting(event_name: str) -> Callable[[Flask], None]:
    """An injector after which ``event_name`` is declared in the spec but never emitted."""

    def inject(app: Flask) -> None:
        emitter = sandbox(app)["engine"].events
        fired = emitter.fired

        def without(changes: Any, operation_id: str | None) -> list[Any]:
            return [event for event in fired(changes, operation_id) if event.event != event_name]

        emitter.fired = without

    return inject


inject_missing_event = never_emitting("invoice.sent")  # sendInvoice fires no event at all


# --- links and defaults defects ----------------------------------------------------------------------------

UPSTREAM_ORIGIN = "http://billing-api.svc.cluster.local:8080"  # where the app behind a proxy thinks it lives


class UpstreamHostLinks(Middleware):
    """Pagination ``links`` are built from the upstream's own host name and port, not the URL the client called."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        body = json_of(response)
        if not (isinstance(body, dict) and isinstance(body.get("links"), dict)):
            return response
        for name, url in body["links"].items():
            if isinstance(url, str):
                parts = urlsplit(url)
                body["links"][name] = UPSTREAM_ORIGIN + urlunsplit(("", "", parts.path, parts.query, parts.fragment))
        return set_json(response, body)


class LocationOnAppPort(Middleware):
    """A 201 carries a ``Location`` built from the app server's own port (one above the port the client called)."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        created = json_of(response)
        record = created.get("data") if isinstance(created, dict) else None
        if request.method == "POST" and response.status_code == 201 and isinstance(record, dict) and "id" in record:
            called = urlsplit(request.host_url)
            app_port = (called.port or 80) + 1
            response.headers["Location"] = (
                f"{called.scheme}://{called.hostname}:{app_port}{request.path}/{record['id']}"
            )
        return response


class DefaultPageSize(Middleware):
    """A list called without ``limit`` is paged by the framework's default size, not the spec's."""

    def __init__(self, app: WSGIApp, size: int) -> None:
        super().__init__(app)
        self.size = size

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        if request.method != "GET" or "limit" in request.args or response.status_code != 200:
            return response
        body = json_of(response)
        if not (isinstance(body, dict) and isinstance(body.get("meta"), dict) and "per_page" in body["meta"]):
            return response
        return self.forward(with_query(environ, [*request.args.items(multi=True), ("limit", str(self.size))]))


class NewestInvoicesFirst(Middleware):
    """GET /invoices without ``sort`` lists the newest first (``-id``), not the spec's default ``id``."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if request.method == "GET" and request.path == f"{API}/invoices" and "sort" not in request.args:
            return self.forward(with_query(environ, [*request.args.items(multi=True), ("sort", "-id")]))
        return self.forward(environ)


class TicketPriorityLow(Middleware):
    """POST /tickets without ``priority`` stores LOW (the database column's default), not the spec's MEDIUM."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if request.method != "POST" or request.path != f"{API}/tickets":
            return self.forward(environ)
        raw = _body_of(environ)
        sent = _object_in(raw)
        if sent is None or "priority" in sent:
            return self.forward(_resend(environ, raw))
        return self.forward(_resend(environ, json.dumps({**sent, "priority": "LOW"}).encode()))


# --- idempotency and rate-limit defects -------------------------------------------------------------------

KEY_ENV = "HTTP_IDEMPOTENCY_KEY"
REPLAYED = "Idempotent-Replayed"
RACE_SECONDS = 1.0  # how long the racy idempotency layer takes before it stores an answer


def _body_of(environ: WSGIEnviron) -> bytes:
    """The request body, read once (forward it again with ``_resend``)."""
    return Request(environ).get_data(cache=True)


def _object_in(raw: bytes) -> dict[str, Any] | None:
    """The JSON object a body holds, or None (not JSON, or not an object)."""
    try:
        sent = json.loads(raw)
    except ValueError:
        return None
    return sent if isinstance(sent, dict) else None


def _resend(environ: WSGIEnviron, raw: bytes, *, drop_key: bool = False) -> WSGIEnviron:
    """``environ`` with a fresh copy of the body (and without the Idempotency-Key header)."""
    sent = {**environ, "wsgi.input": _Body(raw), "CONTENT_LENGTH": str(len(raw))}
    if drop_key:
        sent.pop(KEY_ENV, None)
    return sent


def _stored(response: Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, list(response.headers.items()), response.get_data()


def _replay(stored: tuple[int, list[tuple[str, str]], bytes]) -> Response:
    status, headers, data = stored
    replay = Response(data, status=status, headers=headers)
    replay.headers[REPLAYED] = "true"
    return replay


class DropReplayedHeader(Middleware):
    """Replays of an idempotent request come without ``Idempotent-Replayed: true``."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        response.headers.pop(REPLAYED, None)
        return response


class ReplayUnwrapped(Middleware):
    """A replay answers the stored record bare, not the stored response (its ``data`` envelope is lost)."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        body = json_of(response)
        if response.headers.get(REPLAYED) == "true" and isinstance(body, dict) and "data" in body:
            set_json(response, body["data"])
        return response


class OtherBodyAccepted(Middleware):
    """The same Idempotency-Key with another body is run as a new request (201) instead of being refused (422)."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if KEY_ENV not in environ:
            return self.forward(environ)
        raw = _body_of(environ)
        response = self.forward(_resend(environ, raw))
        body = json_of(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if response.status_code == 422 and isinstance(errors, dict) and "Idempotency-Key" in errors:
            return self.forward(_resend(environ, raw, drop_key=True))
        return response


class RacyIdempotency(Middleware):
    """An idempotency layer of its own that looks up a key, runs the request, and only then stores the answer.

    No claim is taken while the request runs, so requests sent at once under one key each run: the race the
    sandbox closes with an atomic claim (and 409 while the first is running). Sequential replays work.
    """

    def __init__(self, app: WSGIApp) -> None:
        super().__init__(app)
        self.answers: dict[tuple[str, str], tuple[bytes, tuple[int, list[tuple[str, str]], bytes]]] = {}
        self.lock = threading.Lock()

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if KEY_ENV not in environ or request.method not in ("POST", "PUT", "PATCH"):
            return self.forward(environ)
        raw = _body_of(environ)
        key = (request.headers.get("Authorization", ""), environ[KEY_ENV])
        fingerprint = hashlib.sha256(request.method.encode() + request.path.encode() + raw).digest()
        with self.lock:
            known = self.answers.get(key)
        if known is not None:
            if known[0] != fingerprint:
                errors = {"Idempotency-Key": ["This key was already used with a different request."]}
                body = {"error": "validation_failed", "message": "Key reused.", "request_id": "racy", "errors": errors}
                return Response(json.dumps(body), status=422, mimetype="application/json")
            return _replay(known[1])
        response = self.forward(_resend(environ, raw, drop_key=True))
        time.sleep(RACE_SECONDS)  # the time the check-then-store gap stays open
        if response.status_code < 500 and response.status_code != 429:
            with self.lock:
                self.answers[key] = (fingerprint, _stored(response))
        return response


class SharedIdempotencyKeys(Middleware):
    """Idempotency keys are global, not per company: another company's request under a used key gets its replay."""

    def __init__(self, app: WSGIApp) -> None:
        super().__init__(app)
        self.answers: dict[str, tuple[bytes, tuple[int, list[tuple[str, str]], bytes]]] = {}
        self.lock = threading.Lock()

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if KEY_ENV not in environ or request.method not in ("POST", "PUT", "PATCH"):
            return self.forward(environ)
        raw = _body_of(environ)
        fingerprint = hashlib.sha256(request.method.encode() + request.path.encode() + raw).digest()
        with self.lock:
            known = self.answers.get(environ[KEY_ENV])
        if known is not None and known[0] == fingerprint:
            return _replay(known[1])
        response = self.forward(_resend(environ, raw))
        if known is None and 200 <= response.status_code < 300:
            with self.lock:
                self.answers.setdefault(environ[KEY_ENV], (fingerprint, _stored(response)))
        return response


def _rate_limited(response: Response) -> bool:
    return response.status_code == 429


class RemainingNeverFalls(Middleware):
    """``X-RateLimit-Remaining`` always says the whole limit is left (the counter is never reported)."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        if "X-RateLimit-Limit" in response.headers:
            response.headers["X-RateLimit-Remaining"] = response.headers["X-RateLimit-Limit"]
        return response


class NoRetryAfter(Middleware):
    """A 429 comes without ``Retry-After``."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        if _rate_limited(response):
            response.headers.pop("Retry-After", None)
        return response


class NeverResets(Middleware):
    """Once a key got a 429 it gets that 429 for good: its window never resets."""

    def __init__(self, app: WSGIApp) -> None:
        super().__init__(app)
        self.refused: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
        self.lock = threading.Lock()

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        caller = request.headers.get("Authorization", "")
        with self.lock:
            refused = self.refused.get(caller)
        if caller and refused is not None:
            status, headers, data = refused
            return Response(data, status=status, headers=headers)
        response = self.forward(environ)
        if caller and _rate_limited(response):
            with self.lock:
                self.refused[caller] = _stored(response)
        return response


# --- tenancy leaks beyond the record's own path ------------------------------------------------------------


def full_keys(app: Flask) -> list[str]:
    """Every company's full-access key in this instance's fixtures."""
    return [key.key for company in sandbox(app)["fixtures"].companies for key in company.keys if "*" in key.scopes]


def as_key(environ: WSGIEnviron, raw: bytes, key: str) -> WSGIEnviron:
    """``environ`` sent again, with its body, under another company's key."""
    return {**_resend(environ, raw), "HTTP_AUTHORIZATION": f"Bearer {key}"}


class TenantlessLookup(Middleware):
    """``method`` on paths matching ``pattern`` finds its record in any company (404 only when none has it).

    The lookup behind one kind of endpoint forgot the tenant filter the record's own path has.
    """

    def __init__(self, app: WSGIApp, keys: list[str], method: str, pattern: str) -> None:
        super().__init__(app)
        self.keys, self.method, self.pattern = keys, method, re.compile(rf"^{re.escape(API)}{pattern}$")

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if request.method != self.method or not self.pattern.match(request.path):
            return self.forward(environ)
        raw = _body_of(environ)
        response = self.forward(_resend(environ, raw))
        for key in self.keys if response.status_code == 404 else []:
            retry = self.forward(as_key(environ, raw, key))
            if retry.status_code != 404:
                return retry
        return response


def tenantless(method: str, pattern: str) -> Callable[[Flask], None]:
    """Inject a ``TenantlessLookup`` for ``method`` on ``pattern`` (a path regex under the API root)."""

    def inject(app: Flask) -> None:
        keys = full_keys(app)
        wrap(app, lambda inner: TenantlessLookup(inner, keys, method, pattern))

    return inject


class SearchEveryCompany(Middleware):
    """``GET /search`` answers the hits of every company: one shared index, no tenant filter."""

    def __init__(self, app: WSGIApp, keys: list[str]) -> None:
        super().__init__(app)
        self.keys = keys

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        response = self.forward(environ)
        body = json_of(response)
        if request.path != f"{API}/search" or response.status_code != 200 or not isinstance(body, dict):
            return response
        rows = list(body.get("data") or [])
        for key in self.keys:
            other = json_of(self.forward({**environ, "HTTP_AUTHORIZATION": f"Bearer {key}"}))
            rows += [row for row in (other or {}).get("data") or [] if row not in rows]
        body["data"] = rows
        return set_json(response, body)


class ReportEveryCompany(Middleware):
    """``GET /reports/financial`` adds up the money of every company, not the caller's alone."""

    SUMMED = ("income", "expenses", "profit", "outstanding")

    def __init__(self, app: WSGIApp, keys: list[str]) -> None:
        super().__init__(app)
        self.keys = keys

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if request.path != f"{API}/reports/financial":
            return self.forward(environ)
        response = self.forward(environ)
        body = json_of(response)
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            return response
        answers = [json_of(self.forward({**environ, "HTTP_AUTHORIZATION": f"Bearer {key}"})) for key in self.keys]
        for name in self.SUMMED:
            body["data"][name] = sum_of(name, answers)
        return set_json(response, body)


def sum_of(name: str, answers: list[Any]) -> int:
    """One report figure added up over every company's answer (those that are no report count nothing)."""
    figures = [answer["data"].get(name) for answer in answers if isinstance(answer, dict) and "data" in answer]
    return sum(figure for figure in figures if isinstance(figure, int))


def after_clock(app: Flask, resource: str, defect: Callable[[dict[str, Any], Any, Any], None]) -> None:
    """Run ``defect`` wherever one instance applies a resource's clock rule: after its derive hooks and its actions."""
    hooks = sandbox(app)["engine"].hooks
    rule = hooks.clock_rules[resource]

    def apply(record: dict[str, Any], tenant: Any, clock: Any) -> None:
        rule.apply(record, tenant, clock)
        defect(record, tenant, clock)

    hooks.clock_rules[resource] = dataclasses.replace(rule, apply=apply)
    hooks.add_derive(resource, defect)


def inject_overdue_a_day_late(app: Flask) -> None:
    """Invoices fall OVERDUE a day late: the clock rule compares ``due_date < today - 1``."""

    def a_day_late(invoice: dict[str, Any], tenant: Any, clock: Any) -> None:
        yesterday = (clock.today() - dt.timedelta(days=1)).isoformat()
        if invoice.get("status") == "OVERDUE" and str(invoice.get("due_date")) >= yesterday:
            invoice["status"] = "SENT"

    after_clock(app, "invoices", a_day_late)


def inject_estimates_never_expire(app: Flask) -> None:
    """Estimates past their expiry date stay DRAFT or SENT (EXPIRED is never shown)."""

    def never_expire(estimate: dict[str, Any], tenant: Any, clock: Any) -> None:
        if estimate.get("status") == "EXPIRED":
            estimate["status"] = "SENT" if estimate.get("sent_at") else "DRAFT"

    after_clock(app, "estimates", never_expire)


def inject_paid_invoice_overdue(app: Flask) -> None:
    """An open invoice past due falls OVERDUE even when it is paid in full (paid_status is not consulted)."""

    def ignore_payments(invoice: dict[str, Any], tenant: Any, clock: Any) -> None:
        due = invoice.get("due_date")
        if invoice.get("status") in ("SENT", "VIEWED") and due and str(due) < clock.today().isoformat():
            invoice["status"] = "OVERDUE"

    after_clock(app, "invoices", ignore_payments)


def inject_overdue_on_the_due_date(app: Flask) -> None:
    """Unpaid open invoices fall OVERDUE on their due date itself: the clock rule compares ``due_date <= today``."""

    def a_day_early(invoice: dict[str, Any], tenant: Any, clock: Any) -> None:
        due_today = str(invoice.get("due_date")) == clock.today().isoformat()
        if invoice.get("status") in ("SENT", "VIEWED") and due_today and invoice.get("paid_status") != "PAID":
            invoice["status"] = "OVERDUE"

    after_clock(app, "invoices", a_day_early)


# --- defects on resources beyond the four the reference model knows (the rules derived from the spec) ---------


def inject_lead_convert_from_lost(app: Flask) -> None:
    """POST /leads/{id}/convert also converts a LOST lead (the guard's list of states has one too many)."""
    engine = sandbox(app)["engine"]
    convert = next(op for op in engine.index.operations if op.operation_id == "convertLead")
    transition = dict(convert.extensions["x-sandbox-transition"])
    transition["from"] = [*transition["from"], "LOST"]
    convert.extensions["x-sandbox-transition"] = transition


def inject_expense_project_unchecked(app: Flask) -> None:
    """An expense's project_id is stored without looking the project up (any id, even one never created)."""
    sandbox(app)["engine"].index.resources["expenses"].refs.pop("project_id")


def inject_user_email_not_unique(app: Flask) -> None:
    """Two users of one company may share an e-mail address (the unique check is missing)."""
    sandbox(app)["engine"].index.resources["users"].unique = ()


class ExpenseNumberFromCount(Middleware):
    """POST /expenses numbers a new expense ``EXP-{count + 1}``: after a delete the number is taken, and it fails."""

    def handle(self, request: Request, environ: WSGIEnviron) -> Response:
        if request.method != "POST" or request.path != f"{API}/expenses":
            return self.forward(environ)
        raw = _body_of(environ)
        sent = _object_in(raw)
        if sent is None or sent.get("expense_number"):
            return self.forward(_resend(environ, raw))
        listed = json_of(self.subrequest(request, "GET", [("limit", "1")]))
        total = int(listed["meta"]["total"]) if isinstance(listed, dict) else 0
        return self.forward(_resend(environ, json.dumps({**sent, "expense_number": f"EXP-{total + 1:06d}"}).encode()))


SHORT_WINDOW = (("rate_limit", 10), ("rate_window_seconds", 2))  # a limit to reach and a window to wait out


def _variants() -> dict[str, Variant]:
    listed = [
        Variant(
            "wrong_total", "invoice total one cent above its items", ("rules.totals",), ("rules",), inject_wrong_total
        ),
        Variant(
            "page_overlap",
            "page N>1 repeats the last record of page N-1",
            ("rules.pagination",),
            ("rules",),
            lambda app: wrap(app, PageOverlap),
        ),
        Variant(
            "bola_leak",
            "GET item returns another company's record",
            ("security.bola",),
            ("security",),
            inject_bola_leak,
        ),
        Variant(
            "missing_scope_check",
            "PATCH /items/{id} without items:write",
            ("security.scopes",),
            ("security",),
            inject_missing_scope_check,
        ),
        Variant(
            "password_echo",
            "GET /users/{id} echoes the writeOnly password",
            ("security.write_only",),
            ("security",),
            inject_password_echo,
        ),
        Variant(
            "limit_clamped",
            "limit > 100 silently clamped to 100",
            ("security.limits",),
            ("security",),
            lambda app: wrap(app, ClampLimit),
        ),
        Variant(
            "undocumented_status",
            "GET /units answers 203",
            ("conformance.status_code_conformance",),
            ("conformance",),
            inject_undocumented_status,
            ("/units",),
        ),
        Variant(
            "wrong_type",
            "currency precision as a string",
            ("conformance.response_schema_conformance",),
            ("conformance",),
            inject_wrong_type,
            ("/currencies",),
        ),
        Variant(
            "filter_ignored",
            "GET /invoices ignores ?status=",
            ("rules.filters",),
            ("rules",),
            lambda app: wrap(app, IgnoreFilter),
        ),
        Variant(
            "deleted_readable",
            "a deleted record is still readable",
            ("rules.deleted", "stateful.use_after_free"),
            ("rules",),
            lambda app: wrap(app, SoftDelete),
        ),
        Variant(
            "broken_transition",
            "an invoice can be sent from any status",
            ("rules.transitions", "rules.lifecycle.invoices"),
            ("rules",),
            inject_broken_transition,
        ),
        Variant(
            "missing_header",
            "GET /payment-methods without X-RateLimit-Remaining",
            ("conformance.response_headers_conformance",),
            ("conformance",),
            inject_missing_header,
            ("/payment-methods",),
        ),
        Variant(
            "expired_key_accepted",
            "expired keys still authenticate",
            ("security.auth",),
            ("security",),
            inject_expired_key_accepted,
        ),
        Variant(
            "read_only_stored",
            "POST /customers stores a client-sent created_at",
            ("security.read_only",),
            ("security",),
            lambda app: wrap(app, lambda inner: StoreCreatedAt(inner, sandbox(app)["engine"])),
        ),
        Variant(
            "links_upstream_host",
            f"pagination links point at {UPSTREAM_ORIGIN}, the upstream's own address",
            ("conformance.body_links_base_url",),
            ("conformance",),
            lambda app: wrap(app, UpstreamHostLinks),
            ("/customers",),
        ),
        Variant(
            "location_other_port",
            "a 201's Location names the app server's port, one above the one the client called",
            ("conformance.header_links_base_url",),
            ("conformance",),
            lambda app: wrap(app, LocationOnAppPort),
            ("/customers",),
        ),
        Variant(
            "default_page_size_20",
            "a list without limit returns 20 records (the spec's default is 10)",
            ("rules.default_page_size",),
            ("rules",),
            lambda app: wrap(app, lambda inner: DefaultPageSize(inner, 20)),
        ),
        Variant(
            "default_sort_reversed",
            "GET /invoices without sort lists the newest first (the spec's default is id)",
            ("rules.default_sort",),
            ("rules",),
            lambda app: wrap(app, NewestInvoicesFirst),
        ),
        Variant(
            "field_default_ignored",
            "a ticket created without priority is LOW (the spec's default is MEDIUM)",
            ("rules.field_defaults",),
            ("rules",),
            lambda app: wrap(app, TicketPriorityLow),
        ),
        Variant(
            "webhook_bad_signature",
            "webhook deliveries signed with a key other than the subscription's secret",
            ("webhooks.signature",),
            ("webhooks",),
            lambda app: wrap(app, ForgeWebhookSecret),
        ),
        Variant(
            "webhook_missing_event",
            "invoice.sent is documented but never delivered",
            ("webhooks.delivery",),
            ("webhooks",),
            inject_missing_event,
        ),
        Variant(
            "webhook_no_retry",
            "a webhook delivery answered 500 is never retried (one attempt)",
            ("webhooks.retries",),
            ("webhooks",),
            lambda app: None,
            settings=(("webhook_attempts", 1),),
        ),
        Variant(
            "idempotency_no_replayed_header",
            "a replay lacks Idempotent-Replayed: true",
            ("idempotency.replayed_header",),
            ("idempotency",),
            lambda app: wrap(app, DropReplayedHeader),
        ),
        Variant(
            "idempotency_replay_differs",
            "a replay answers the bare record, not the stored response",
            ("idempotency.replay",),
            ("idempotency",),
            lambda app: wrap(app, ReplayUnwrapped),
        ),
        Variant(
            "idempotency_other_body_accepted",
            "a used Idempotency-Key with another body creates a record (201, not 422)",
            ("idempotency.mismatch",),
            ("idempotency",),
            lambda app: wrap(app, OtherBodyAccepted),
        ),
        Variant(
            "idempotency_race",
            "requests sent at once under one Idempotency-Key each create a record",
            ("idempotency.concurrency",),
            ("idempotency",),
            lambda app: wrap(app, RacyIdempotency),
        ),
        Variant(
            "idempotency_shared_keys",
            "Idempotency-Keys are shared across companies",
            ("idempotency.per_company",),
            ("idempotency",),
            lambda app: wrap(app, SharedIdempotencyKeys),
        ),
        Variant(
            "ratelimit_remaining_stuck",
            "X-RateLimit-Remaining never falls",
            ("ratelimit.remaining",),
            ("ratelimit",),
            lambda app: wrap(app, RemainingNeverFalls),
            # a window of months: two answers in a row are always in one window, and the limit is never spent
            settings=(("rate_limit", 50), ("rate_window_seconds", 10**7)),
        ),
        Variant(
            "ratelimit_no_retry_after",
            "a 429 without Retry-After",
            ("ratelimit.retry_after",),
            ("ratelimit",),
            lambda app: wrap(app, NoRetryAfter),
            settings=SHORT_WINDOW,
        ),
        Variant(
            "ratelimit_never_resets",
            "a key that got a 429 keeps getting 429 after the window",
            ("ratelimit.reset",),
            ("ratelimit",),
            lambda app: wrap(app, NeverResets),
            settings=SHORT_WINDOW,
        ),
        Variant(
            "tenancy_pdf_any_company",
            "GET /invoices/{id}/pdf renders another company's invoice",
            ("security.bola.documents",),
            ("security",),
            tenantless("GET", r"/[a-z-]+/\d+/pdf"),
        ),
        Variant(
            "tenancy_subcollection",
            "GET /projects/{id}/invoices lists the invoices of another company's project",
            ("security.bola.nested",),
            ("security",),
            tenantless("GET", r"/projects/\d+/invoices"),
        ),
        Variant(
            "tenancy_action_any_company",
            "POST /invoices/{id}/<action> acts on another company's invoice",
            ("security.bola.actions",),
            ("security",),
            tenantless("POST", r"/invoices/\d+/[a-z-]+"),
        ),
        Variant(
            "tenancy_search_every_company",
            "GET /search finds every company's records",
            ("security.bola.search",),
            ("security",),
            lambda app: wrap(app, lambda inner: SearchEveryCompany(inner, full_keys(app))),
        ),
        Variant(
            "tenancy_report_every_company",
            "GET /reports/financial adds up every company's money",
            ("security.bola.reports",),
            ("security",),
            lambda app: wrap(app, lambda inner: ReportEveryCompany(inner, full_keys(app))),
        ),
        Variant(
            "overdue_a_day_late",
            "a sent invoice due yesterday is not OVERDUE yet (due_date < today - 1)",
            ("rules.dates.overdue",),
            ("rules",),
            inject_overdue_a_day_late,
        ),
        Variant(
            "estimates_never_expire",
            "an estimate past its expiry_date never shows EXPIRED",
            ("rules.dates.expired",),
            ("rules",),
            inject_estimates_never_expire,
        ),
        Variant(
            "paid_invoice_overdue",
            "an invoice paid in full, then sent, falls OVERDUE past its due date",
            ("rules.dates.exempt",),
            ("rules",),
            inject_paid_invoice_overdue,
        ),
        Variant(
            "overdue_on_the_due_date",
            "a sent invoice falls OVERDUE on its due date itself (due_date <= today)",
            ("rules.dates.early",),
            ("rules",),
            inject_overdue_on_the_due_date,
        ),
        Variant(
            "lead_convert_from_lost",
            "a LOST lead can be converted to a customer (convert is declared from NEW, CONTACTED, QUALIFIED)",
            ("rules.lifecycle.leads",),
            ("rules",),
            inject_lead_convert_from_lost,
        ),
        Variant(
            "expense_project_unchecked",
            "an expense naming a project that does not exist is created",
            ("rules.references",),
            ("rules",),
            inject_expense_project_unchecked,
        ),
        Variant(
            "expense_number_from_count",
            "expense numbers come from the count of expenses, so after a delete the next create collides (422)",
            ("rules.sequences",),
            ("rules",),
            lambda app: wrap(app, ExpenseNumberFromCount),
        ),
        Variant(
            "user_email_not_unique",
            "a second user with a taken e-mail address is created",
            ("rules.unique",),
            ("rules",),
            inject_user_email_not_unique,
        ),
    ]
    return {variant.name: variant for variant in listed}


VARIANTS = _variants()


def variants_of(suite: str) -> list[str]:
    """The variants that only one suite is meant to catch."""
    return [name for name, variant in VARIANTS.items() if variant.suites == (suite,)]


def checks_by_name(report: Any) -> dict[str, Any]:
    """A report's checks by their names."""
    return {check.name: check for check in report.checks}
