"""The /__sandbox blueprint: the admin token, the control spec and docs, and every route group."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from mockserver.behaviours.seeding import seeding_of
from mockserver.control.bodies import Bodies
from mockserver.control.clock_routes import add_clock_routes, clock_view
from mockserver.control.fault_routes import add_fault_and_journal_routes
from mockserver.control.key_routes import add_key_routes
from mockserver.control.sandbox import (
    PREFIX,
    SPEC_PATH,
    STATE_BODY_LIMIT,
    STATE_PATH,
    Sandbox,
    control_document,
    presented_credential,
)
from mockserver.control.state_routes import add_state_routes
from mockserver.errors import ApiError, Forbidden, Unauthorized, error_body
from mockserver.explorer import explorer_page
from mockserver.jsonio import dumps
from mockserver.views import request_id_from


def control_blueprint(sandbox: Sandbox) -> Blueprint:
    """The /__sandbox routes of one app."""
    document = control_document()
    bodies = Bodies(document)
    blueprint = Blueprint("sandbox_control", __name__, url_prefix=PREFIX)

    def respond(body: Any, status: int = 200) -> Response:
        return Response(dumps(body), status=status, mimetype="application/json")

    @blueprint.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        if "request_id" not in g:  # the same id the app's after-request hook puts in X-Request-Id
            g.request_id = request_id_from(request.headers.get("X-Request-Id"))
        rid = str(g.request_id)
        return Response(
            dumps(error_body(error, rid)), status=error.status, headers=error.headers, mimetype="application/json"
        )

    @blueprint.before_request
    def admin_only() -> None:
        if request.path in (f"{PREFIX}/openapi.json", f"{PREFIX}/openapi.yaml", f"{PREFIX}/docs"):
            return
        if sandbox.is_admin(request.headers.get("Authorization")):
            sandbox.control.refresh()
            if request.path == STATE_PATH:
                request.max_content_length = STATE_BODY_LIMIT
            return
        _, presented = presented_credential(request.headers.get("Authorization"))
        if presented and sandbox.keyring.identify(presented) is not None:
            raise Forbidden("API keys cannot use /__sandbox: send the admin token printed in the banner.")
        raise Unauthorized(
            "This endpoint needs the sandbox's admin token: 'Authorization: Bearer <admin token>' "
            "(printed in the banner; --admin-token sets it)."
        )

    @blueprint.get("/openapi.json")
    def spec_json() -> Response:
        return respond(document)

    @blueprint.get("/docs")
    def docs() -> str:
        return explorer_page(
            document,
            f"{PREFIX}/docs",
            f"{PREFIX}/openapi.json",
            preauthorized={},  # the admin token is a secret: the reader pastes it, the page never holds it
            credential_hint="Authorize with the admin token printed in the banner: Bearer $ADMIN_TOKEN.",
            other_docs=("the API", "/docs"),
        )

    @blueprint.get("/openapi.yaml")
    def spec_yaml() -> Response:
        return Response(SPEC_PATH.read_text(encoding="utf-8"), mimetype="application/yaml")

    @blueprint.get("")
    def overview() -> Response:
        seed, scale = seeding_of(sandbox.engine.store, sandbox.settings.seed, sandbox.settings.scale)
        return respond(
            {
                "seed": seed,
                "scale": scale,
                "clock": clock_view(sandbox),
                "companies": [{"id": c.id, "name": c.name} for c in sandbox.fixtures.companies],
                "customer_actions": [f"{r}/{{id}}/{a}" for r, a in sandbox.actions],
                "openapi": f"{sandbox.settings.base_url}{PREFIX}/openapi.json",
            }
        )

    add_state_routes(blueprint, sandbox, bodies, respond)
    add_key_routes(blueprint, sandbox, bodies, respond)
    add_clock_routes(blueprint, sandbox, bodies, respond)
    add_fault_and_journal_routes(blueprint, sandbox, bodies, respond)
    return blueprint
