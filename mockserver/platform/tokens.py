"""OAuth2 access tokens: the client-credentials grant, and finding an issued token again.

A token is kept (in the store's shared ephemera, so every worker knows it) as its digest only, with
its company, concrete scopes, role and expiry; the row is purged once the token can no longer work.
A client's grants are expanded like a key's (``*:read`` is the read-only role), and a token narrowed
to read scopes is read-only, so it cannot write where the spec names no scope.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

from mockserver.errors import BadRequest, Unauthorized
from mockserver.platform.keys import PREFIX_LENGTH, Credential, digest_of
from mockserver.platform.scopes import ScopeModel
from mockserver.state.clock import Clock
from mockserver.state.fixtures import CompanyFixture, Fixtures
from mockserver.store import Ephemera

TOKEN_LIFETIME_SECONDS = 3600
TOKENS = "oauth-token"


class TokenBook:
    """The OAuth2 clients of the fixtures and the tokens issued to them."""

    def __init__(self, fixtures: Fixtures, scopes: ScopeModel, clock: Clock, shared: Ephemera) -> None:
        self._scopes = scopes
        self._clock = clock
        self._shared = shared
        self._companies: dict[int, CompanyFixture] = {company.id: company for company in fixtures.companies}
        self._clients = {c.client_id: (company, c) for company in fixtures.companies for c in company.clients}

    def issue(self, form: Mapping[str, Any]) -> dict[str, Any]:
        """OAuth2 client-credentials grant: a bearer token limited to the requested scopes."""
        if form.get("grant_type") != "client_credentials":
            raise BadRequest(
                "Unsupported grant_type: the sandbox issues tokens for 'client_credentials' only "
                "(a sandbox API key also works as an access token)."
            )
        entry = self._clients.get(str(form.get("client_id", "")))
        secret = str(form.get("client_secret", ""))
        if entry is None or not hmac.compare_digest(entry[1].client_secret.encode(), secret.encode()):
            raise Unauthorized("Invalid client_id or client_secret.")
        company, client = entry
        wanted = str(form.get("scope") or "").split()
        client_scopes = self._scopes.expand(client.scopes)
        unknown = [scope for scope in wanted if scope not in self._scopes.declared]
        if unknown:
            raise BadRequest(f"Unknown scope(s): {', '.join(unknown)}")
        refused = [scope for scope in wanted if scope not in client_scopes]
        if refused:
            raise BadRequest(f"The client may not request the scope(s): {', '.join(refused)}")
        # Omitted scope: every concrete scope the client holds (a token never carries "*").
        grants = tuple(wanted) or tuple(s for s in self._scopes.declared if s in client_scopes)
        role = ScopeModel.role(client.scopes)
        if wanted and role != "read-only":
            role = ScopeModel.role(wanted)  # a token narrowed to read scopes is read-only
        token = "at_test_" + secrets.token_urlsafe(24)
        expires = self._clock.now() + dt.timedelta(seconds=TOKEN_LIFETIME_SECONDS)
        token_entry = {
            "company": company.id,
            "name": f"OAuth token for {client.client_id}",
            "grants": list(grants),
            "role": role,
            "expires_at": expires.isoformat(),
        }
        # Only the digest is kept; the shared row is purged (real time) once the token can no longer work.
        self._shared.set(TOKENS, digest_of(token).hex(), token_entry, time.time() + TOKEN_LIFETIME_SECONDS + 60)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "scope": " ".join(grants),
        }

    def find(self, digest: bytes, presented: str) -> Credential | None:
        """An OAuth token issued by any worker, found in the shared ephemera by its digest."""
        entry = self._shared.get(TOKENS, digest.hex(), time.time())
        company = self._companies.get(int(entry["company"])) if isinstance(entry, dict) else None
        if entry is None or company is None:
            return None
        expires = dt.datetime.fromisoformat(str(entry["expires_at"]))
        return Credential(
            digest,
            presented[:PREFIX_LENGTH],
            company,
            str(entry["name"]),
            tuple(entry["grants"]),
            expires,
            role=str(entry.get("role") or ""),
        )
