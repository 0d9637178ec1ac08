"""The OAuth2 token endpoint a spec's oauth2 flows point at, when no operation of the spec serves it.

``mockserver.platform.oauth`` decides the paths (each flow's tokenUrl path); this module answers them
with the client-credentials grant of the app's key ring, in the API's error shape. Failed client
authentications count against the caller's address like failed API keys, so secrets cannot be
guessed faster here than anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask, Response, request

from mockserver.errors import ApiError, Unauthorized, UnsupportedMediaType
from mockserver.jsonio import dumps
from mockserver.platform.auth import KeyRing
from mockserver.platform.ratelimit import RateLimiter

FORM = "application/x-www-form-urlencoded"


def add_token_routes(
    app: Flask,
    paths: Iterable[str],
    keyring: KeyRing,
    limiter: RateLimiter,
    error_response: Callable[[ApiError], Response],
) -> None:
    """Serve the client-credentials grant at every path in ``paths`` (POST, a form, as RFC 6749 says)."""

    def issue() -> Response:
        failures = f"authfail:{request.remote_addr}"
        try:
            limiter.check(failures, "Too many failed authentication attempts from this address; wait and retry.")
            if request.mimetype != FORM:
                raise UnsupportedMediaType(f"The token request is a form: send Content-Type: {FORM}.")
            try:
                body = keyring.issue_token(request.form, request.headers.get("Authorization"))
            except Unauthorized:
                limiter.spend(failures)
                raise
        except ApiError as error:
            return error_response(error)
        return Response(dumps(body), mimetype="application/json", headers={"Cache-Control": "no-store"})

    for path in paths:
        app.add_url_rule(path, endpoint=f"oauth-token:{path}", view_func=issue, methods=["POST"])
