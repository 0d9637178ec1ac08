"""/__sandbox keys: list, create, rate limits, revoke."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from mockserver.control.bodies import Bodies
from mockserver.control.sandbox import PREFIX, Sandbox
from mockserver.errors import Conflict, NotFound, ValidationFailed
from mockserver.platform.auth import Credential, slug, unique_id
from mockserver.state.clock import rfc3339

Respond = Callable[..., Response]


def add_key_routes(blueprint: Blueprint, sandbox: Sandbox, bodies: Bodies, respond: Respond) -> None:
    """List, create, rate-limit and revoke API keys (secrets shown once, at creation)."""
    keyring = sandbox.keyring

    def view(credential: Credential) -> dict[str, Any]:
        policy = keyring.policy(credential)
        return {
            "id": credential.key_id,
            "name": credential.name,
            "company": credential.company.id,
            "scopes": list(credential.grants),
            "prefix": credential.prefix,
            "expires_at": rfc3339(credential.expires_at) if credential.expires_at else None,
            "allowed_ips": list(credential.allowed_ips),
            "rate_limit": {"limit": policy.limit, "window_seconds": policy.window_seconds} if policy else None,
            "source": credential.source,
            "revoked": keyring.is_revoked(credential),
        }

    def shown(key_id: str) -> dict[str, Any]:
        credential = next((c for c in keyring.credentials() if c.key_id == key_id), None)
        if credential is None:
            raise NotFound(f"No key {key_id!r}; GET {PREFIX}/keys lists them.")
        return view(credential)

    @blueprint.get("/keys")
    def list_keys() -> Response:
        return respond({"data": [view(c) for c in keyring.credentials()]})

    @blueprint.get("/keys/<key_id>")
    def get_key(key_id: str) -> Response:
        return respond(shown(key_id))

    @blueprint.post("/keys")
    def create_key() -> Response:
        body = bodies.read("createKey", required=True)
        company_id = body.get("company", sandbox.default_company)
        company = keyring.companies.get(company_id)
        if company is None:
            raise ValidationFailed(
                {"company": [f"No company {company_id}; the companies are {sorted(keyring.companies)}."]}
            )
        scopes = list(body.get("scopes") or ["*"])
        unknown = keyring.unknown_patterns(scopes)
        if unknown:
            raise ValidationFailed({"scopes": [f"{s!r} matches no scope of this API" for s in unknown]})
        expires_at = body.get("expires_at")
        secret = f"sk_test_{company.slug.replace('-', '_')}_{secrets.token_urlsafe(18)}"
        made = Credential.of_secret(secret, company, body["name"], tuple(scopes))

        def add(document: dict[str, Any]) -> str:
            taken = {c.key_id for c in keyring.credentials()} | set(document.get("keys") or {})
            key_id = slug(body["name"])
            if key_id in taken:
                raise Conflict(f"A key named like {body['name']!r} exists (id {key_id!r}); choose another name.")
            key_id = unique_id(key_id, taken)
            document.setdefault("keys", {})[key_id] = {
                "id": key_id,
                "name": body["name"],
                "company": company_id,
                "scopes": scopes,
                "digest": made.digest.hex(),
                "prefix": made.prefix,
                "expires_at": dt.datetime.fromisoformat(expires_at).isoformat() if expires_at else None,
                "allowed_ips": list(body.get("allowed_ips") or ()),
            }
            if body.get("rate_limit"):
                document.setdefault("rate_limits", {})[key_id] = body["rate_limit"]
            return key_id

        key_id = sandbox.control.update(add)
        return respond({**shown(key_id), "key": secret}, 201)

    @blueprint.patch("/keys/<key_id>")
    def update_key(key_id: str) -> Response:
        shown(key_id)
        body = bodies.read("updateKey", required=True)

        def change(document: dict[str, Any]) -> None:
            document.setdefault("rate_limits", {})[key_id] = body["rate_limit"]

        sandbox.control.update(change)
        sandbox.limiter.clear()
        return respond(shown(key_id))

    @blueprint.delete("/keys/<key_id>")
    def revoke_key(key_id: str) -> Response:
        shown(key_id)

        def revoke(document: dict[str, Any]) -> None:
            document["revoked"] = sorted({*(document.get("revoked") or ()), key_id})

        sandbox.control.update(revoke)
        return Response(status=204)
