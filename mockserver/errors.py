"""The API's errors, each rendered in the one error shape the spec documents.

Every failure a client can cause is an ``ApiError``; ``error_body`` turns it into
``{"error", "message", "request_id", "errors"?}`` in exactly one place.

    ApiError
    ├── BadRequest            400 bad_request (malformed JSON, bad parameters)
    ├── Unauthorized          401 unauthorized (missing, unknown or expired credential)
    ├── Forbidden             403 forbidden (missing scope, address not allowed)
    ├── NotFound              404 not_found (unknown path, record absent or another tenant's)
    ├── MethodNotAllowed      405 method_not_allowed (carries the Allow header)
    ├── Conflict              409 conflict (state forbids the action, record in use)
    ├── PayloadTooLarge       413 payload_too_large
    ├── UnsupportedMediaType  415 unsupported_media_type
    ├── ValidationFailed      422 validation_failed (per-field messages in ``errors``)
    └── RateLimited           429 rate_limited (carries Retry-After and the exhausted budget's headers)

``ContractViolation`` is not an ``ApiError``: it means the mock itself broke its contract
(strict mode) and surfaces as a loud 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

FieldErrors = dict[str, list[str]]


class ApiError(Exception):
    """A client-caused failure with an HTTP status and a machine-readable code."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors: FieldErrors | None = (
            {field: list(messages) for field, messages in errors.items()} if errors else None
        )
        self.headers: dict[str, str] = dict(headers or {})


class BadRequest(ApiError):
    """The request is malformed: unparsable body or invalid parameters."""

    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    """No usable credential was presented."""

    status, code = 401, "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="sandbox"'})


class Forbidden(ApiError):
    """The credential is valid but not allowed to do this."""

    status, code = 403, "forbidden"


class NotFound(ApiError):
    """Nothing is there, or it belongs to another company."""

    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    """The path exists but not with this method."""

    status, code = 405, "method_not_allowed"

    def __init__(self, message: str, allowed: Sequence[str]) -> None:
        super().__init__(message, headers={"Allow": ", ".join(allowed)})


class Conflict(ApiError):
    """The record's current state forbids the request."""

    status, code = 409, "conflict"


class RequestTimeout(ApiError):
    """The announced body did not arrive within the server's body timeout."""

    status, code = 408, "request_timeout"


class PayloadTooLarge(ApiError):
    """The body exceeds the configured limit."""

    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    """The body's content type is not one the operation accepts."""

    status, code = 415, "unsupported_media_type"


class ValidationFailed(ApiError):
    """The body parsed but breaks the schema or a business rule."""

    status, code = 422, "validation_failed"

    def __init__(self, errors: Mapping[str, Sequence[str]], message: str | None = None) -> None:
        if message is None:
            first_field, first_messages = next(iter(errors.items()))
            message = f"The given data was invalid: {first_field}: {first_messages[0]}"
        super().__init__(message, errors=errors)


class RateLimited(ApiError):
    """The key used up its request budget for the current window."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int, budget_headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message, headers={**(budget_headers or {}), "Retry-After": str(max(1, retry_after))})


class DatabaseUnavailable(ApiError):
    """The sandbox's database cannot serve now (restarting, unreachable): the client should try again shortly."""

    status, code = 503, "service_unavailable"
    retry_after_seconds: ClassVar[int] = 5

    def __init__(self) -> None:
        super().__init__(
            "The sandbox's database cannot be reached right now. Try again in a few seconds.",
            headers={"Retry-After": str(self.retry_after_seconds)},
        )


class ContractViolation(Exception):
    """The mock produced a response its own spec does not allow (strict mode)."""


def error_body(error: ApiError, request_id: str) -> dict[str, Any]:
    """Render an error in the API's one error shape."""
    return native_error(error.code, error.message, request_id, error.errors)


def native_error(code: str, message: str, request_id: str, errors: Any = None) -> dict[str, Any]:
    """The sandbox's own error shape: ``{error, message, request_id[, errors]}``."""
    body: dict[str, Any] = {"error": code, "message": message, "request_id": request_id}
    if errors is not None:
        body["errors"] = errors
    return body
