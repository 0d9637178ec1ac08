"""API keys, OAuth2 client-credentials tokens, scopes and tenancy, checked as the spec's securitySchemes say.

The sandbox keeps every key as the SHA-256 digest of its secret (a key created through
/__sandbox is never stored in clear): a presented secret is found by its digest, confirmed with
``hmac.compare_digest``, so lookup time does not depend on how much of a secret was guessed.
Keys an admin created, revoked or gave a rate limit come from the shared control document
(``apply_control``), so every worker knows them.

An operation's ``security`` lists alternatives, each a set of schemes that must all be met; any
sandbox key meets any scheme, sent where that scheme says (``credentials``), and an OAuth2 access
token from ``issue_token`` meets a bearer one. The first alternative met with every scope it names
lets the request through; else a credential lacking a scope is 403 naming it, a bad one 401 saying
why, and none at all 401 naming every way the operation accepts, with a WWW-Authenticate challenge
for the schemes that travel in ``Authorization``. Grants are patterns over the declared scopes,
and ``*`` (full) and ``*:read`` (read-only) are roles derived from the spec (``scopes``).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from mockserver.behaviours.context import Caller
from mockserver.errors import ApiError, Forbidden, Unauthorized
from mockserver.platform.credentials import missing_message, presented, requirement_schemes, with_challenges
from mockserver.platform.keys import Credential, digest_of, policy_of, slug, unique_id
from mockserver.platform.oauth import token_form
from mockserver.platform.ratelimit import RatePolicy
from mockserver.platform.scopes import ScopeModel
from mockserver.platform.tokens import TOKEN_LIFETIME_SECONDS, TOKENS, TokenBook
from mockserver.spec import Operation
from mockserver.spec.resolve import Lookup
from mockserver.spec.security import SecurityScheme, security_schemes
from mockserver.state.clock import Clock
from mockserver.state.fixtures import CompanyFixture, Fixtures
from mockserver.store import Ephemera
from mockserver.store.ephemera import MemoryEphemera

__all__ = [
    "TOKENS",
    "TOKEN_LIFETIME_SECONDS",
    "Credential",
    "KeyRing",
    "policy_of",
    "slug",
    "unique_id",
]


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
        self.schemes: dict[str, SecurityScheme] = security_schemes(schemes)
        self._companies = {company.id: company for company in fixtures.companies}
        self.scopes = ScopeModel.build(self.schemes, operations)
        self.declared_scopes = self.scopes.declared
        self._clock = clock
        self._tokens = TokenBook(fixtures, self.scopes, clock, shared if shared is not None else MemoryEphemera())
        self._callers: dict[bytes, Caller] = {}
        self._held: dict[bytes, frozenset[str]] = {}
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
    def query_parameters(self) -> frozenset[str]:
        """The query parameters an apiKey scheme reads a key from (a list must not call them unknown)."""
        return frozenset(s.parameter for s in self.schemes.values() if s.carrier == "query")

    @property
    def companies(self) -> dict[int, CompanyFixture]:
        """The companies credentials act for, by id."""
        return self._companies

    def credentials(self) -> list[Credential]:
        """Every key (fixture keys first, then created ones), without tokens."""
        return list(self._by_digest.values())

    def unknown_patterns(self, patterns: Iterable[str]) -> list[str]:
        """The grants that mean nothing here: not a role (``*``, ``*:read``), and covering no declared scope."""
        return [p for p in patterns if not self.scopes.is_known(p)]

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
        self._callers, self._held = {}, {}

    def held(self, credential: Credential) -> frozenset[str]:
        """The declared scopes a credential holds (its roles and patterns expanded), once per key."""
        cached = self._held.get(credential.digest)
        if cached is None:
            cached = self.scopes.expand(credential.grants)
            if credential.digest in self._by_digest:  # only keys: tokens come and go
                self._held[credential.digest] = cached
        return cached

    def caller(self, credential: Credential) -> Caller:
        """The behaviour-facing view of a credential, computed once per credential."""
        cached = self._callers.get(credential.digest)
        if cached is None:
            cached = credential.caller(self.declared_scopes, self.held(credential))
            if credential.digest in self._by_digest:  # only keys: tokens come and go
                self._callers[credential.digest] = cached
        return cached

    def identify(self, presented: str) -> Credential | None:
        """The credential matching a presented secret, compared in constant time (a key, else an issued token)."""
        digest = digest_of(presented)
        candidate = self._by_digest.get(digest)
        if candidate is None:
            return self._tokens.find(digest, presented)
        if not hmac.compare_digest(candidate.digest, digest):
            return None
        return candidate

    def authenticate(self, operation: Operation, headers: Lookup, query: Lookup, cookies: Lookup) -> Credential | None:
        """Check an operation's security requirements; None for a public operation, else raise 401/403."""
        requirements = operation.security
        if not requirements or any(not alternative for alternative in requirements):
            return None
        refusal: ApiError | None = None
        for requirement in requirements:
            try:
                credential = self._meet(operation, requirement, headers, query, cookies)
            except (Unauthorized, Forbidden) as error:  # another alternative may still be met
                if refusal is None or (isinstance(error, Forbidden) and not isinstance(refusal, Forbidden)):
                    refusal = error
                continue
            if credential is not None:
                return credential
        alternatives = [requirement_schemes(requirement, self.schemes) for requirement in requirements]
        if refusal is None:
            refusal = Unauthorized(missing_message(alternatives))
        if isinstance(refusal, Unauthorized):
            with_challenges(refusal, (scheme for schemes in alternatives for scheme in schemes))
        raise refusal

    def _meet(
        self,
        operation: Operation,
        requirement: Mapping[str, tuple[str, ...]],
        headers: Lookup,
        query: Lookup,
        cookies: Lookup,
    ) -> Credential | None:
        """The credential meeting one requirement; None when the request carries nothing for one of its schemes."""
        schemes = requirement_schemes(requirement, self.schemes)
        carried = [presented(scheme, headers, query, cookies) for scheme in schemes]
        if not all(carried):
            return None
        credentials = [self.verify_any(candidates) for candidates in carried]
        lacking = [
            scope
            for scopes, credential in zip(requirement.values(), credentials, strict=True)
            for scope in scopes
            if scope not in self.held(credential)
        ]
        if lacking:
            raise Forbidden(f"Your API key does not have the required scope(s): {', '.join(lacking)}")
        named = [scope for scopes in requirement.values() for scope in scopes]
        for credential in credentials:
            if credential.effective_role == "read-only" and not self.scopes.read_only_may(operation, named):
                needs = f" (required scope(s): {', '.join(named)})" if named else ""
                raise Forbidden(
                    f"This API key is read-only and {operation.method} {operation.path} may change data: "
                    f"it needs a full key{needs}."
                )
        return credentials[0]

    def verify(self, presented: str) -> Credential:
        """The live credential of a presented secret, else 401 saying why (unknown, revoked or expired)."""
        return self.verify_any((presented,))

    def verify_any(self, candidates: Iterable[str]) -> Credential:
        """The live credential of the first candidate secret that is one (Basic: user name, then password)."""
        credential = next(filter(None, map(self.identify, candidates)), None)
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

    def issue_token(self, form: Mapping[str, Any], authorization: str | None = None) -> dict[str, Any]:
        """OAuth2 client-credentials grant: a bearer token limited to the requested scopes.

        The client authenticates in the form or with HTTP Basic (``authorization``, the request's header).
        """
        return self._tokens.issue(token_form(form, authorization))
