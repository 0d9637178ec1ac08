"""API keys, OAuth2 client-credentials tokens, scopes and tenancy.

The sandbox keeps every key as the SHA-256 digest of its secret (a key created through
/__sandbox is never stored in clear): a presented secret is found by its digest, confirmed with
``hmac.compare_digest``, so lookup time does not depend on how much of a secret was guessed.
Keys an admin created, revoked or gave a rate limit come from the shared control document
(``apply_control``), so every worker knows them. Scope grants are patterns: ``*`` is every
scope the spec declares, ``*:read`` every read scope.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.behaviours.context import Caller
from mockserver.errors import BadRequest, Forbidden, Unauthorized
from mockserver.platform.ratelimit import RatePolicy
from mockserver.spec import Operation
from mockserver.spec.resolve import Lookup
from mockserver.state.clock import Clock
from mockserver.state.fixtures import CompanyFixture, Fixtures
from mockserver.store import Ephemera
from mockserver.store.ephemera import MemoryEphemera

TOKEN_LIFETIME_SECONDS = 3600
TOKENS = "oauth-token"
PREFIX_LENGTH = 12


@dataclass(frozen=True)
class Credential:
    """A key or token as the sandbox knows it: the SHA-256 digest of its secret, never the secret."""

    digest: bytes
    prefix: str
    company: CompanyFixture
    name: str
    grants: tuple[str, ...]
    expires_at: dt.datetime | None
    allowed_ips: tuple[str, ...] = ()
    key_id: str = ""
    rate_limit: RatePolicy | None = None
    source: str = "fixtures"

    @classmethod
    def of_secret(
        cls,
        secret: str,
        company: CompanyFixture,
        name: str,
        grants: tuple[str, ...],
        *,
        expires_at: dt.datetime | None = None,
        allowed_ips: tuple[str, ...] = (),
        key_id: str = "",
        rate_limit: RatePolicy | None = None,
    ) -> Credential:
        """A credential for a secret (kept as its digest and first characters)."""
        prefix = secret[:PREFIX_LENGTH]
        return cls(_digest(secret), prefix, company, name, grants, expires_at, allowed_ips, key_id, rate_limit)

    def grants_scope(self, scope: str) -> bool:
        """Whether one of this credential's patterns covers ``scope``."""
        return any(fnmatch.fnmatchcase(scope, pattern) for pattern in self.grants)

    def caller(self, declared_scopes: tuple[str, ...]) -> Caller:
        """The behaviour-facing view: company, key name and concrete scopes, never the secret."""
        return Caller(
            company_id=self.company.id,
            company=self.company.profile,
            key_name=self.name,
            key_prefix=self.prefix,
            scopes=tuple(scope for scope in declared_scopes if self.grants_scope(scope)),
            expires_at=self.expires_at,
        )


@dataclass(frozen=True)
class Presented:
    """What a request carried for one security scheme (None when it carried nothing)."""

    scheme: str
    value: str | None


class KeyRing:
    """Every credential the sandbox accepts, and the rules for checking them."""

    def __init__(
        self,
        fixtures: Fixtures,
        schemes: Mapping[str, Any],
        clock: Clock,
        operations: Iterable[Operation] = (),
        shared: Ephemera | None = None,
    ) -> None:
        self._schemes = schemes
        self._shared = shared if shared is not None else MemoryEphemera()
        self._companies = {company.id: company for company in fixtures.companies}
        self.declared_scopes = _declared_scopes(schemes, operations)
        self._clock = clock
        self._callers: dict[bytes, Caller] = {}
        self._clients = {c.client_id: (company, c) for company in fixtures.companies for c in company.clients}
        fixed: dict[bytes, Credential] = {}
        taken: set[str] = set()
        for company in fixtures.companies:
            for key in company.keys:
                key_id = unique_id(slug(key.name), taken)
                taken.add(key_id)
                credential = Credential.of_secret(
                    key.key,
                    company,
                    key.name,
                    key.scopes,
                    expires_at=key.expires_at,
                    allowed_ips=key.allowed_ips,
                    key_id=key_id,
                    rate_limit=key.rate_limit,
                )
                fixed[credential.digest] = credential
        self._fixed = fixed
        self._by_digest = dict(fixed)
        self._revoked: frozenset[str] = frozenset()
        self._policies: dict[str, RatePolicy | None] = {}

    @property
    def companies(self) -> dict[int, CompanyFixture]:
        """The companies credentials act for, by id."""
        return self._companies

    def credentials(self) -> list[Credential]:
        """Every key (fixture keys first, then created ones), without tokens."""
        return list(self._by_digest.values())

    def unknown_patterns(self, patterns: Iterable[str]) -> list[str]:
        """The scope patterns that cover no scope the spec declares (matched as a credential's grants are)."""
        return [p for p in patterns if not any(fnmatch.fnmatchcase(s, p) for s in self.declared_scopes)]

    def is_revoked(self, credential: Credential) -> bool:
        """Whether an admin revoked this key."""
        return credential.key_id in self._revoked

    def policy(self, credential: Credential) -> RatePolicy | None:
        """The key's own rate limit (an admin's override first), or None for the sandbox-wide one."""
        if credential.key_id in self._policies:
            return self._policies[credential.key_id]
        return credential.rate_limit

    def apply_control(self, document: Mapping[str, Any]) -> None:
        """Take in the keys, revocations and rate limits an admin set (shared by every worker)."""
        keys = dict(self._fixed)
        for entry in (document.get("keys") or {}).values():
            company = self._companies.get(int(entry["company"]))
            if company is None:
                continue
            credential = Credential(
                bytes.fromhex(entry["digest"]),
                str(entry["prefix"]),
                company,
                str(entry["name"]),
                tuple(entry["scopes"]),
                dt.datetime.fromisoformat(entry["expires_at"]) if entry.get("expires_at") else None,
                tuple(entry.get("allowed_ips") or ()),
                str(entry["id"]),
                policy_of(entry.get("rate_limit")),
                "admin",
            )
            keys[credential.digest] = credential
        policies = {key_id: policy_of(value) for key_id, value in (document.get("rate_limits") or {}).items()}
        self._by_digest, self._policies = keys, policies
        self._revoked = frozenset(document.get("revoked") or ())
        self._callers = {}

    def caller(self, credential: Credential) -> Caller:
        """The behaviour-facing view of a credential, computed once per credential."""
        cached = self._callers.get(credential.digest)
        if cached is None:
            cached = credential.caller(self.declared_scopes)
            if credential.digest in self._by_digest:  # only keys: tokens come and go
                self._callers[credential.digest] = cached
        return cached

    def identify(self, presented: str) -> Credential | None:
        """The credential matching a presented secret, compared in constant time (a key, else an issued token)."""
        digest = _digest(presented)
        candidate = self._by_digest.get(digest)
        if candidate is None:
            return self._token(digest, presented)
        if not hmac.compare_digest(candidate.digest, digest):
            return None
        return candidate

    def _token(self, digest: bytes, presented: str) -> Credential | None:
        """An OAuth token issued by any worker, found in the shared ephemera by its digest."""
        entry = self._shared.get(TOKENS, digest.hex(), time.time())
        company = self._companies.get(int(entry["company"])) if isinstance(entry, dict) else None
        if entry is None or company is None:
            return None
        expires = dt.datetime.fromisoformat(str(entry["expires_at"]))
        return Credential(
            digest, presented[:PREFIX_LENGTH], company, str(entry["name"]), tuple(entry["grants"]), expires
        )

    def authenticate(self, operation: Operation, headers: Lookup, query: Lookup, cookies: Lookup) -> Credential | None:
        """Check an operation's security requirements; None for a public operation, else raise 401/403."""
        requirements = operation.security
        if not requirements or any(not alternative for alternative in requirements):
            return None
        missing_scopes: list[str] = []
        saw_credential = False
        for alternative in requirements:
            credential = None
            for scheme in alternative:
                presented = self._extract(scheme, headers, query, cookies)
                if presented is None:
                    credential = None
                    break
                saw_credential = True
                credential = self.verify(presented)
            if credential is None:
                continue
            required = [scope for scopes in alternative.values() for scope in scopes]
            lacking = [scope for scope in required if not credential.grants_scope(scope)]
            if not lacking:
                return credential
            missing_scopes = missing_scopes or lacking
        if not saw_credential:
            raise Unauthorized("Missing credentials: send 'Authorization: Bearer <your sandbox API key>'.")
        raise Forbidden(f"Your API key does not have the required scope(s): {', '.join(missing_scopes)}")

    def _extract(self, scheme_name: str, headers: Lookup, query: Lookup, cookies: Lookup) -> str | None:
        scheme = self._schemes.get(scheme_name) or {}
        kind = scheme.get("type")
        if kind == "apiKey":
            source = {"header": headers, "query": query, "cookie": cookies}.get(scheme.get("in", "header"), headers)
            value = source.get(scheme.get("name", ""))
            if value is None and scheme.get("in", "header") == "header":
                value = _bearer(headers)
            return value or None
        if kind == "http" and str(scheme.get("scheme", "")).lower() != "bearer":
            return None
        return _bearer(headers)

    def verify(self, presented: str) -> Credential:
        """The live credential of a presented secret, else 401 saying why (unknown, revoked or expired)."""
        credential = self.identify(presented)
        if credential is None:
            raise Unauthorized("Invalid API key or access token.")
        if credential.key_id in self._revoked:
            raise Unauthorized("This API key was revoked; create or use another key.")
        if credential.expires_at is not None and credential.expires_at <= self._clock.now():
            raise Unauthorized(f"This API key expired at {credential.expires_at.isoformat()}.")
        return credential

    def check_address(self, credential: Credential, remote_addr: str | None) -> None:
        """Refuse a key used from outside its IP allowlist (403)."""
        if credential.allowed_ips and remote_addr not in credential.allowed_ips:
            raise Forbidden(f"This API key may not be used from {remote_addr}.")

    def issue_token(self, form: Mapping[str, Any]) -> dict[str, Any]:
        """OAuth2 client-credentials grant: a bearer token limited to the requested scopes."""
        if form.get("grant_type") != "client_credentials":
            raise BadRequest("Unsupported grant_type: only 'client_credentials' is supported.")
        entry = self._clients.get(str(form.get("client_id", "")))
        secret = str(form.get("client_secret", ""))
        if entry is None or not hmac.compare_digest(entry[1].client_secret.encode(), secret.encode()):
            raise Unauthorized("Invalid client_id or client_secret.")
        company, client = entry
        wanted = str(form.get("scope") or "").split()
        client_credential = Credential(b"", "", company, client.client_id, client.scopes, None)
        unknown = [scope for scope in wanted if scope not in self.declared_scopes]
        if unknown:
            raise BadRequest(f"Unknown scope(s): {', '.join(unknown)}")
        refused = [scope for scope in wanted if not client_credential.grants_scope(scope)]
        if refused:
            raise BadRequest(f"The client may not request the scope(s): {', '.join(refused)}")
        # Omitted scope: every concrete scope the client's patterns cover (a token never carries "*").
        grants = tuple(wanted) or tuple(s for s in self.declared_scopes if client_credential.grants_scope(s))
        token = "at_test_" + secrets.token_urlsafe(24)
        expires = self._clock.now() + dt.timedelta(seconds=TOKEN_LIFETIME_SECONDS)
        token_entry = {
            "company": company.id,
            "name": f"OAuth token for {client.client_id}",
            "grants": list(grants),
            "expires_at": expires.isoformat(),
        }
        # Only the digest is kept; the shared row is purged (real time) once the token can no longer work.
        self._shared.set(TOKENS, _digest(token).hex(), token_entry, time.time() + TOKEN_LIFETIME_SECONDS + 60)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "scope": " ".join(grants),
        }


def _declared_scopes(schemes: Mapping[str, Any], operations: Iterable[Operation]) -> tuple[str, ...]:
    """Every scope the spec names, in OAuth flows or in operation requirements, sorted."""
    scopes: set[str] = set()
    for scheme in schemes.values():
        for flow in (scheme.get("flows") or {}).values():
            scopes.update((flow.get("scopes") or {}).keys())
    for operation in operations:
        for requirement in operation.security:
            for names in requirement.values():
                scopes.update(names)
    return tuple(sorted(scopes))


def policy_of(value: Any) -> RatePolicy | None:
    """A rate policy from its JSON form (``{"limit": 10, "window_seconds": 60}``), None for null."""
    if not isinstance(value, Mapping):
        return None
    return RatePolicy(int(value["limit"]), int(value["window_seconds"]))


def slug(name: str) -> str:
    """A key's id from its name: ``Acme full access`` -> ``acme-full-access``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "key"


def unique_id(wanted: str, taken: Collection[str]) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``... when it is taken."""
    candidate, number = wanted, 1
    while candidate in taken:
        number += 1
        candidate = f"{wanted}-{number}"
    return candidate


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def _bearer(headers: Lookup) -> str | None:
    value = headers.get("Authorization") or ""
    kind, _, token = value.partition(" ")
    return token.strip() or None if kind.lower() == "bearer" else None
