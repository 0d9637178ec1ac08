"""The one generic view: auth, rate limit, validation, behaviour, strict response check, headers.

It works on a request as Werkzeug reads one (``incoming.IncomingRequest``) and answers plain values
(status, headers, bytes): no framework context, so the gateway can serve spec operations without
Flask's per-request machinery.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge

from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.engine import Engine
from mockserver.behaviours.preferred import PreferredAnswers
from mockserver.errors import (
    ApiError,
    ContractViolation,
    DatabaseUnavailable,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
    ValidationFailed,
)
from mockserver.incoming import IncomingRequest
from mockserver.jsonio import dumps, loads
from mockserver.platform.auth import Credential, KeyRing
from mockserver.platform.control_state import ControlState
from mockserver.platform.faults import FaultInjector
from mockserver.platform.idempotency import IdempotencyStore, key_header
from mockserver.platform.prefer import HEADER as PREFER
from mockserver.platform.prefer import read_preferences
from mockserver.platform.ratelimit import Budget, RateLimiter
from mockserver.rsgi import BODY_TIMED_OUT
from mockserver.spec import Operation
from mockserver.spec.error_shape import ErrorFacts, shape_error
from mockserver.spec.resolve import JsonSchema
from mockserver.spec.variants import QueryVariants, variant_for
from mockserver.store import StoreError, StoreUnavailable
from mockserver.validation import OperationValidator

log = logging.getLogger("mockserver")

# Set in the environ once the control state was brought up to date for this request (no second read).
CONTROL_REFRESHED = "mockserver.control_refreshed"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
EXPOSED_HEADERS = (
    "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
    "RateLimit, RateLimit-Policy, Retry-After"
)
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, Idempotency-Key, X-Request-Id, Prefer"
_READ_SIZE = 64 * 1024
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": EXPOSED_HEADERS,
    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
}


def request_id_from(sent: str | None) -> str:
    """The client's X-Request-Id when it is a sane token, else a fresh UUID."""
    if sent and _SANE_REQUEST_ID.fullmatch(sent):
        return sent
    return fresh_uuid4()


def fresh_uuid4() -> str:
    """A random (version 4) UUID in its usual text form, without building a ``uuid.UUID`` (a request makes one)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def standard_headers(request_id: str, budget: Budget | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The headers every response carries: request id, rate-limit budget (when known) and CORS."""
    headers = {"X-Request-Id": request_id, **(budget.headers() if budget is not None else {}), **_CORS}
    if extra:
        headers.update(extra)
    return headers


def operation_error(operation: Operation, error: ApiError, request_id: str, usual: JsonSchema | None = None) -> Reply:
    """An error as the operation documents errors of its status, else in the API's ``usual`` error schema.

    An operation that documents no such error (a 404 on an API that lists only 400s) still answers
    in the shape the API's clients read errors in; with neither, the native shape.
    """
    status = refusal_status(operation, error.status)
    key = str(status)
    documented = (
        operation.responses.get(key) or operation.responses.get(f"{key[0]}XX") or operation.responses.get("default")
    )
    body = shaped_error(documented.json_schema if documented is not None else usual, error, request_id, status)
    return Reply(status, body, error.headers)


_REFUSALS = {400: 422, 422: 400, 404: 403}


def refusal_status(operation: Operation, status: int) -> int:
    """The status a refusal takes where the operation does not document its own but one that says the same.

    400 and 422 both say "the request is wrong" (Solidus lists 422, never 400); a record that is not
    there, or not the caller's, is 403 where an operation documents 403 and no 404 (Adyen scopes every
    credential to its accounts, and answers an account it does not see with 403). As Prism answers.
    """
    other = _REFUSALS.get(status)
    responses = operation.responses
    if other is None or str(status) in responses or "4XX" in responses or str(other) not in responses:
        return status
    return other


def usual_error_schema(operations: Iterable[Operation]) -> JsonSchema | None:
    """The error schema most operations document for a 4XX (else ``default``): the shape of errors no operation owns.

    An unknown route or a method a path does not have belongs to no operation; such errors take the
    API's usual error shape, so a client's one error type reads them too.
    """
    seen: dict[int, tuple[int, JsonSchema]] = {}
    for operation in operations:
        documented = next(
            (operation.responses[key] for key in ("404", "405", "4XX", "400", "default") if key in operation.responses),
            None,
        )
        schema = documented.json_schema if documented is not None else None
        if schema is not None:
            count, _ = seen.get(id(schema), (0, schema))
            seen[id(schema)] = (count + 1, schema)
    if not seen:
        return None
    return max(seen.values(), key=lambda counted: counted[0])[1]


def shaped_error(schema: JsonSchema | None, error: ApiError, request_id: str, status: int | None = None) -> Any:
    """An error's body in a documented error schema (the native shape when it documents that, or nothing).

    ``status`` is the one the answer goes out with, where the operation documents another than the error's own.
    """
    facts = ErrorFacts(error.code, error.message, status or error.status, request_id, error.errors)
    return shape_error(schema, facts)


def internal_error_body(exc: BaseException, request_id: str) -> dict[str, str]:
    """The error shape of a failure inside the sandbox (logged by the caller with its traceback)."""
    return {"error": "internal_error", "message": f"The sandbox failed: {exc!r}", "request_id": request_id}


def detached(error: ApiError) -> ApiError:
    """The error without its traceback or the exceptions it chains: what a finished answer may keep of it.

    Kept whole, its frames hold the request that raised it, which holds the error: a reference cycle
    that lives until the garbage collector runs, and with it the server's connection (Granian closes
    a connection whose body was not read to the end only once its request is freed).
    """
    error.__traceback__ = error.__context__ = error.__cause__ = None
    return error


def cookies_of(request: IncomingRequest) -> Mapping[str, str]:
    """The request's cookies, parsed only when it sent any (Werkzeug's parse walks every header each time)."""
    return request.cookies if "HTTP_COOKIE" in request.environ else {}


def read_body(request: IncomingRequest) -> bytes:
    """The request body, or 413 past the size limit, whether its length is declared or it comes chunked.

    Werkzeug stops reading a chunked body at the limit without saying so, which would hand a
    truncated body on as if it were whole; here the byte after the limit turns it into a 413.
    """
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not chunked and not request.content_length:
        return b""  # nothing announced: no read, so no wait on the server's input stream
    timeout = request.environ.get(BODY_TIMED_OUT)
    if timeout is not None:
        raise RequestTimeout(
            f"The request body did not arrive within {timeout:g} seconds; send the whole body without pausing.",
            headers={"Connection": "close"},
        )
    limit = request.max_content_length
    too_large = PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    length = request.content_length
    if not chunked and length is not None and limit is not None:  # the common case, without Werkzeug's wrappers
        if length > limit:
            raise too_large
        return bytes(request.environ["wsgi.input"].read(length))
    if limit is None or length is not None or not chunked:
        try:
            return request.get_data(cache=False)
        except RequestEntityTooLarge:
            raise too_large from None
    stream = request.environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_READ_SIZE, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise too_large


@dataclass
class Answer:
    """A finished response: status, headers, and the body with its type (None: no content)."""

    status: int
    headers: dict[str, str]
    body: bytes | None = None
    content_type: str | None = None
    key_name: str | None = None  # for the access log and the journal: who called (never the key itself) ...
    error: ApiError | None = None  # ... why the request was refused ...
    operation_id: str | None = None  # ... which operation it reached, and the body it sent
    request_body: bytes | None = None
    drop: bool = False  # a fault asks for the connection to be dropped instead of answering
    request_id: str | None = None  # the request's own id (a replayed answer carries the original request's)


@dataclass
class Exchange:
    """One request in flight: the request, its id, and the rate-limit budget it spent."""

    request: IncomingRequest
    request_id: str
    budget: Budget | None = field(default=None)
    key_name: str | None = None
    error: ApiError | None = None
    raw: bytes | None = None
    injected: bool = False  # an injected error: not the API's behaviour, so not held to the spec
    drop: bool = False


class OperationView:
    """Answers every spec operation: one instance, routed by rule and method."""

    def __init__(
        self,
        engine: Engine,
        keyring: KeyRing,
        limiter: RateLimiter,
        idempotency: IdempotencyStore,
        validators: dict[str, OperationValidator],
        routes: dict[str, dict[str, Operation]],
        control: ControlState,
        faults: FaultInjector,
        preferred: PreferredAnswers,
        *,
        default_company: int,
        strict: bool,
        base_url: str,
        base_urls_by_host: Mapping[str, str] | None = None,
        variants: QueryVariants | None = None,
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.limiter = limiter
        self.idempotency = idempotency
        self.validators = validators
        self.routes = routes
        self.variants = variants or {}  # operations a path key's query selects (``/responses?beta=true``)
        self.control = control
        self.faults = faults
        self.preferred = preferred
        self.default_company = default_company
        self.strict = strict
        self.base_url = base_url
        self.base_urls_by_host = dict(base_urls_by_host or {})  # other names of this server a client may call it by
        self.usual_error = usual_error_schema(engine.index.operations)  # for errors an operation does not document
        self.key_headers = {op.operation_id: key_header(op.parameters) for op in engine.index.operations}

    def base_url_for(self, host: str | None) -> str:
        """The base URL the client called when its Host names this sandbox another way, else the configured one."""
        return self.base_urls_by_host.get((host or "").lower(), self.base_url)

    def answer(self, request: IncomingRequest, rule: str, path_args: dict[str, str]) -> Answer:
        """Answer a request routed to a spec rule (a failure inside becomes a logged 500 in the error shape)."""
        exchange = Exchange(request, request_id_from(request.headers.get("X-Request-Id")))
        try:
            if not request.environ.get(CONTROL_REFRESHED):
                self.control.refresh()
            methods = self.routes[rule]
            if request.method == "OPTIONS" and ("OPTIONS" not in methods or _is_preflight(request)):
                return self.preflight(exchange, methods)  # a documented OPTIONS answers what it documents
            method = request.method if request.method != "HEAD" else "GET"
            operation = methods[method]
            if self.variants:
                operation = variant_for(self.variants, rule, method, request.args) or operation
            validator = self.validators[operation.operation_id]
            try:
                reply = self._answer(exchange, operation, validator, path_args)
            except ApiError as error:
                exchange.error = detached(error)
                reply = operation_error(operation, error, exchange.request_id, self.usual_error)
            answer = self._respond(exchange, validator, reply)
            answer.key_name, answer.error, answer.drop = exchange.key_name, exchange.error, exchange.drop
            answer.request_id = exchange.request_id  # its own, even when a replay's headers carry the original's
            answer.operation_id, answer.request_body = operation.operation_id, exchange.raw
            return answer
        except StoreUnavailable as exc:
            log.warning("%s %s answered 503: %s", request.method, request.path, exc)  # the database's state, no bug
            refusal = DatabaseUnavailable()
            body = shaped_error(self.usual_error, refusal, exchange.request_id, refusal.status)
            headers = standard_headers(exchange.request_id, exchange.budget, refusal.headers)  # no store call
            answer = Answer(refusal.status, headers, dumps(body), "application/json")
            answer.key_name, answer.error, answer.request_id = exchange.key_name, refusal, exchange.request_id
            return answer
        except Exception as exc:
            log.exception("unhandled error while serving %s %s", request.method, request.path)
            return Answer(
                500,
                standard_headers(exchange.request_id, self._budget_if_known(exchange)),
                dumps(internal_error_body(exc, exchange.request_id)),
                "application/json",
            )

    def _budget(self, exchange: Exchange) -> Budget:
        """The budget this request spent, or the caller's address's when it never got that far."""
        return exchange.budget or self.limiter.peek(f"ip:{exchange.request.remote_addr}")

    def _budget_if_known(self, exchange: Exchange) -> Budget | None:
        """``_budget`` for a failed request: none when the store cannot say (the failure may be the store's)."""
        try:
            return self._budget(exchange)
        except StoreError:
            return None

    def _answer(
        self, exchange: Exchange, operation: Operation, validator: OperationValidator, path_args: dict[str, str]
    ) -> Reply:
        request = exchange.request
        credential = self._authenticate(operation, request)
        exchange.key_name = credential.name if credential else None
        # A key has one budget; a caller without one has a budget per address and operation, so health
        # checks never use up the budget of /oauth/token.
        caller_key = (
            f"key:{credential.company.id}:{credential.name}"
            if credential
            else f"ip:{request.remote_addr}:{operation.operation_id}"
        )
        exchange.budget = self.limiter.spend(caller_key, self.keyring.policy(credential) if credential else None)
        if credential is not None:
            self.keyring.check_address(credential, request.remote_addr)
        drop_after = self._meet_faults(exchange, operation, credential)
        if exchange.drop:  # no answer goes out: the journal shows status 0
            exchange.injected = True
            return Reply(0)
        params = validator.parameters(path_args, request.args.to_dict(flat=False), request.headers, cookies_of(request))
        raw = exchange.raw = read_body(request)
        exchange.drop = drop_after
        sent_preferences = request.headers.get(PREFER)  # one value: a server joins repeated headers with commas
        preferences = read_preferences([sent_preferences] if sent_preferences else ())
        if preferences.asked:  # answered from the spec: no behaviour, no transaction, no idempotency record
            validator.body(request.content_type, raw)
            own = standard_headers(exchange.request_id, self._budget(exchange))  # the real values, never examples
            return self.preferred.answer(operation, preferences, frozenset(name.lower() for name in own))
        company_id = credential.company.id if credential else self.default_company
        header = self.key_headers.get(operation.operation_id) if operation.method in ("POST", "PUT", "PATCH") else None
        key = params.get(header) if header else None
        if header is None or not isinstance(key, str):
            return self._execute(exchange, operation, validator, params, raw, company_id, credential)
        fingerprint = self.idempotency.fingerprint(
            request.method, request.path, request.query_string, request.content_type or "", raw
        )
        try:
            claim = self.idempotency.begin(company_id, key, fingerprint, header)
        except ValidationFailed as reused:  # answered with a status the operation documents
            raise validator.refusal(reused) from None
        if isinstance(claim, Reply):
            return claim
        try:
            reply = self._execute(exchange, operation, validator, params, raw, company_id, credential)
        except ApiError as error:
            exchange.error = detached(error)
            reply = operation_error(operation, error, exchange.request_id, self.usual_error)
        encode(reply)  # a replay sends these very bytes
        self.idempotency.finish(claim, reply, exchange.request_id)
        return reply

    def _meet_faults(self, exchange: Exchange, operation: Operation, credential: Credential | None) -> bool:
        """Apply the faults an admin injected: wait, fail, or drop now (True: drop once the request ran)."""
        faults = self.control.document.get("faults")
        if not faults:
            return False
        decision = self.faults.decide(faults, operation.operation_id, credential.key_id if credential else None)
        if decision.latency_seconds:
            time.sleep(decision.latency_seconds)
        if decision.error is not None:
            exchange.injected = True
            raise decision.error
        exchange.drop = decision.drop == "before"
        return decision.drop == "after"

    def _authenticate(self, operation: Operation, request: IncomingRequest) -> Credential | None:
        """The caller's credential; failed attempts are counted per address and refused with 429 past the limit."""
        failures = f"authfail:{request.remote_addr}"
        if operation.security:
            self.limiter.check(failures, "Too many failed authentication attempts from this address; wait and retry.")
        try:
            return self.keyring.authenticate(operation, request.headers, request.args, cookies_of(request))
        except Unauthorized:
            self.limiter.spend(failures)
            raise

    def _execute(
        self,
        exchange: Exchange,
        operation: Operation,
        validator: OperationValidator,
        params: dict[str, Any],
        raw: bytes,
        company_id: int,
        credential: Credential | None,
    ) -> Reply:
        """Validate the body and run the behaviour inside the company's data."""
        request = exchange.request
        body = validator.body(request.content_type, raw)
        self.engine.follow_clock(company_id)
        write = operation.method not in ("GET", "HEAD") or operation.kind == "action"
        queued = 0
        with self.engine.store.tenant(company_id, write=write, lazy=True) as tenant:
            if write:
                self.engine.watch(tenant)
            call = Call(
                operation=operation,
                resource=self.engine.index.resources.get(operation.resource or ""),
                tenant=tenant,
                params=params,
                body=body,
                caller=self.keyring.caller(credential) if credential else None,
                clock=self.engine.clock,
                url_of_request=lambda: self.base_url_for(request.headers.get("Host")) + request.path,
                query_pairs=list(request.args.items(multi=True)),
                header=request.headers.get,
            )
            reply = self.engine.dispatch(call)
            if 300 <= reply.status < 400 and reply.status == operation.success_status:  # it documents only a redirect
                reply.headers = {**self.preferred.redirect_headers(operation.success), **reply.headers}
            if write and 200 <= reply.status < 300:
                queued = self.engine.emit(tenant, operation.operation_id)
        self.engine.notify(queued)
        return reply

    def _respond(self, exchange: Exchange, validator: OperationValidator, reply: Reply) -> Answer:
        encode(reply)
        budget = self._budget(exchange)
        if self.strict and not exchange.injected:
            try:
                validator.response(reply.status, reply.content_type, _sent_body(reply))
            except ContractViolation as violation:
                log.error("CONTRACT VIOLATION: %s", violation)
                body = {"error": "contract_violation", "message": str(violation), "request_id": exchange.request_id}
                return Answer(500, standard_headers(exchange.request_id, budget), dumps(body), "application/json")
        headers = standard_headers(exchange.request_id, budget, reply.headers)
        if reply.raw is None:
            return Answer(reply.status, headers)
        return Answer(reply.status, headers, reply.raw, reply.content_type)

    def preflight(self, exchange: Exchange, methods: dict[str, Operation]) -> Answer:
        """Answer a CORS preflight for a known path."""
        allowed = ", ".join(sorted({*methods, "OPTIONS"}))
        extra = {"Allow": allowed, "Access-Control-Allow-Methods": allowed, "Access-Control-Max-Age": "600"}
        return Answer(204, standard_headers(exchange.request_id, self._budget(exchange), extra))


def _is_preflight(request: IncomingRequest) -> bool:
    """Whether an OPTIONS request is a browser's CORS preflight (it names the method it asks about)."""
    return request.headers.get("Access-Control-Request-Method") is not None


def encode(reply: Reply) -> None:
    """Give a reply its bytes, once: the JSON of its body, unless a behaviour sent bytes of its own."""
    if reply.raw is None and reply.body is not None:
        reply.raw = dumps(reply.body)


def _sent_body(reply: Reply) -> Any:
    """The body as it goes out, for strict checks: JSON decoded from the bytes sent (records may be embedded text)."""
    if reply.raw is None:
        return None
    return loads(reply.raw) if isinstance(reply.body, dict | list) else reply.body
