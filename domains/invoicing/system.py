"""Operations about the service itself: health, the calling key, OAuth2 tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver import __version__
from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.registry import Behaviour
from mockserver.errors import NotFound, Unauthorized

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine


def get_health(call: Call, engine: Engine) -> Reply:
    """The service is up: status, version and the sandbox's current time."""
    return Reply(200, {"status": "healthy", "version": __version__, "timestamp": call.clock.timestamp()})


def get_me(call: Call, engine: Engine) -> Reply:
    """The calling company and key (a prefix of the key only, never the secret)."""
    caller = call.caller
    if caller is None:
        raise Unauthorized("Missing credentials: send 'Authorization: Bearer <your sandbox API key>'.")
    company = {k: v for k, v in caller.company.items() if k in {"id", "name", "slug", "address", "currency"}}
    key = {
        "name": caller.key_name,
        "prefix": caller.key_prefix,
        "scopes": list(caller.scopes),
        "expires_at": caller.expires_at.isoformat().replace("+00:00", "Z") if caller.expires_at else None,
        "last_used_at": call.clock.timestamp(),
    }
    return Reply(200, {"data": {"company": company, "api_key": key}})


def create_oauth_token(call: Call, engine: Engine) -> Reply:
    """OAuth2 client-credentials grant."""
    if engine.issuer is None:
        raise NotFound("This sandbox issues no OAuth2 tokens.")
    form = call.body if isinstance(call.body, dict) else {}
    token = engine.issuer.issue_token(form, call.header("Authorization"))
    return Reply(200, token, headers={"Cache-Control": "no-store"})


BEHAVIOURS: dict[str, Behaviour] = {
    "getHealth": get_health,
    "getMe": get_me,
    "createOAuthToken": create_oauth_token,
}
