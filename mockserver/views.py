"""The one generic view: auth, rate limit, validation, behaviour, strict response check, headers."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.engine import Engine
from mockserver.errors import ApiError, ContractViolation, PayloadTooLarge, error_body
from mockserver.jsonio import dumps
from mockserver.platform.auth import Credential, KeyRing
from mockserver.platform.idempotency import HEADER as IDEMPOTENCY_HEADER
from mockserver.platform.idempotency import IdempotencyStore
from mockserver.platform.ratelimit import Budget, RateLimiter
from mockserver.spec import Operation
from mockserver.validation import OperationValidator

log = logging.getLogger("mockserver")
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
EXPOSED_HEADERS = "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After"
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, Idempotency-Key, X-Request-Id"


def request_id() -> str:
    """The client's X-Request-Id when it is a sane token, else a fresh UUID (computed once per request)."""
    if "request_id" not in g:
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if _SANE_REQUEST_ID.fullmatch(sent) else str(uuid.uuid4())
    return str(g.request_id)


def standard_headers(budget: Budget, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The headers every response carries: request id, rate-limit budget and CORS."""
    headers = {
        "X-Request-Id": request_id(),
        **budget.headers(),
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
    }
    if extra:
        headers.update(extra)
    return headers


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (``None`` body means no content)."""
    if body is None:
        return Response(status=status, headers=headers)
    return Response(dumps(body), status=status, headers=headers, mimetype="application/json")


def error_response(error: ApiError) -> Response:
    """An ApiError in the API's one error shape."""
    return json_response(error.status, error_body(error, request_id()), error.headers)


class OperationView:
    """Answers every spec operation: one instance, routed by Flask rule and method."""

    def __init__(
        self,
        engine: Engine,
        keyring: KeyRing,
        limiter: RateLimiter,
        idempotency: IdempotencyStore,
        validators: dict[str, OperationValidator],
        routes: dict[str, dict[str, Operation]],
        *,
        default_company: int,
        strict: bool,
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.limiter = limiter
        self.idempotency = idempotency
        self.validators = validators
        self.routes = routes
        self.default_company = default_company
        self.strict = strict

    def __call__(self, **path_args: str) -> Response:
        """Flask entry point for every spec route."""
        rule = request.url_rule.rule if request.url_rule else ""
        methods = self.routes[rule]
        if request.method == "OPTIONS":
            return self.preflight(methods)
        operation = methods[request.method if request.method != "HEAD" else "GET"]
        validator = self.validators[operation.operation_id]
        try:
            reply = self._answer(operation, validator, path_args)
        except ApiError as error:
            reply = Reply(error.status, error_body(error, request_id()), error.headers)
        return self._respond(operation, validator, reply)

    def _answer(self, operation: Operation, validator: OperationValidator, path_args: dict[str, str]) -> Reply:
        credential = self.keyring.authenticate(operation, request.headers, request.args, request.cookies)
        caller_key = f"key:{credential.company.id}:{credential.name}" if credential else f"ip:{request.remote_addr}"
        g.budget = self.limiter.spend(caller_key)
        if credential is not None:
            self.keyring.check_address(credential, request.remote_addr)
        params = validator.parameters(path_args, request.args.to_dict(flat=False), request.headers, request.cookies)
        try:
            raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            raise PayloadTooLarge(
                f"The request body exceeds the limit of {request.max_content_length} bytes."
            ) from None
        company_id = credential.company.id if credential else self.default_company
        key = params.get(IDEMPOTENCY_HEADER) if operation.method in ("POST", "PUT", "PATCH") else None
        if not isinstance(key, str):
            return self._execute(operation, validator, params, raw, company_id, credential)
        fingerprint = self.idempotency.fingerprint(
            request.method, request.path, request.query_string, request.content_type or "", raw
        )
        claim = self.idempotency.begin(company_id, key, fingerprint)
        if isinstance(claim, Reply):
            return claim
        try:
            reply = self._execute(operation, validator, params, raw, company_id, credential)
        except ApiError as error:
            reply = Reply(error.status, error_body(error, request_id()), error.headers)
        self.idempotency.finish(claim, reply, request_id())
        return reply

    def _execute(
        self,
        operation: Operation,
        validator: OperationValidator,
        params: dict[str, Any],
        raw: bytes,
        company_id: int,
        credential: Credential | None,
    ) -> Reply:
        """Validate the body and run the behaviour inside the company's data."""
        body = validator.body(request.content_type, raw)
        self.engine.follow_clock(company_id)
        write = operation.method not in ("GET", "HEAD") or operation.kind == "action"
        with self.engine.store.tenant(company_id, write=write) as tenant:
            call = Call(
                operation=operation,
                resource=self.engine.index.resources.get(operation.resource or ""),
                tenant=tenant,
                params=params,
                body=body,
                caller=self.keyring.caller(credential) if credential else None,
                clock=self.engine.clock,
                url_of_request=lambda: request.base_url,
                query_pairs=list(request.args.items(multi=True)),
            )
            reply = self.engine.dispatch(call)
            if reply.raw is None and reply.body is not None:
                reply.raw = dumps(reply.body)
        return reply

    def _respond(self, operation: Operation, validator: OperationValidator, reply: Reply) -> Response:
        if reply.raw is None and reply.body is not None:
            reply.raw = dumps(reply.body)
        budget = g.get("budget") or self.limiter.peek(f"ip:{request.remote_addr}")
        headers = standard_headers(budget, reply.headers)
        if self.strict:
            try:
                validator.response(reply.status, reply.content_type, reply.body if reply.raw is not None else None)
            except ContractViolation as violation:
                log.error("CONTRACT VIOLATION: %s", violation)
                body = {"error": "contract_violation", "message": str(violation), "request_id": request_id()}
                return json_response(500, body, standard_headers(budget))
        if reply.raw is None:
            empty = Response(status=reply.status, headers=headers)
            del empty.headers["Content-Type"]
            return empty
        return Response(reply.raw, status=reply.status, headers=headers, content_type=reply.content_type)

    def preflight(self, methods: dict[str, Operation]) -> Response:
        """Answer a CORS preflight for a known path."""
        allowed = ", ".join([*sorted(methods), "OPTIONS"])
        return Response(
            status=204,
            headers={
                "Allow": allowed,
                "Access-Control-Allow-Methods": allowed,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": "600",
            },
        )
