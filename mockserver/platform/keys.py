"""A credential as the sandbox keeps it: the digest of its secret, its company, grants and limits.

No secret is kept: a key or token is its SHA-256 digest and its first characters (the prefix shown
in /me, the journal and /__sandbox/keys), so nothing the sandbox stores or prints can be replayed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.behaviours.context import Caller
from mockserver.platform.ratelimit import RatePolicy
from mockserver.platform.scopes import ScopeModel, covers
from mockserver.state.fixtures import CompanyFixture

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
    role: str = ""  # "full", "read-only" or "limited"; "" derives it from the grants

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
        return cls(digest_of(secret), prefix, company, name, grants, expires_at, allowed_ips, key_id, rate_limit)

    @property
    def effective_role(self) -> str:
        """The key's role: as stored (a token's), else derived from its grants."""
        return self.role or ScopeModel.role(self.grants)

    def grants_scope(self, scope: str) -> bool:
        """Whether one of this credential's patterns covers ``scope`` (as patterns, without the spec's roles)."""
        return any(covers(pattern, scope) for pattern in self.grants)

    def caller(self, declared_scopes: tuple[str, ...], held: frozenset[str] | None = None) -> Caller:
        """The behaviour-facing view: company, key name and concrete scopes (``held``), never the secret."""
        return Caller(
            company_id=self.company.id,
            company=self.company.profile,
            key_name=self.name,
            key_prefix=self.prefix,
            scopes=tuple(s for s in declared_scopes if (s in held if held is not None else self.grants_scope(s))),
            expires_at=self.expires_at,
        )


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


def digest_of(secret: str) -> bytes:
    """The SHA-256 digest a secret is kept and looked up as (lone surrogates kept, never an error)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
