"""The plain values a behaviour receives and returns: no HTTP objects cross this line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from mockserver.spec import Operation, Resource
from mockserver.state.clock import Clock
from mockserver.store import Tenant


class TokenIssuer(Protocol):
    """Mints OAuth2 client-credentials tokens (implemented by the platform's key ring)."""

    def issue_token(self, form: Mapping[str, Any], authorization: str | None = None) -> dict[str, Any]:
        """Return the RFC 6749 token response, or raise 400/401 (the client may authenticate with HTTP Basic)."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: the company and the credential (never the secret itself)."""

    company_id: int
    company: dict[str, Any]
    key_name: str
    key_prefix: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime | None = None


@dataclass
class Call:
    """One request as a behaviour sees it: parsed parameters and body, the tenant's data, the clock."""

    operation: Operation
    resource: Resource | None
    tenant: Tenant
    params: dict[str, Any]
    body: Any
    caller: Caller | None
    clock: Clock
    url_of_request: Callable[[], str]
    query_pairs: list[tuple[str, str]] = field(default_factory=list)
    header: Callable[[str], str | None] = lambda name: None  # a request header no parameter declares, by name

    @cached_property
    def url(self) -> str:
        """The request's absolute URL without its query (computed only when a list needs links)."""
        return self.url_of_request()

    def param(self, name: str, default: Any = None) -> Any:
        """A parsed parameter's value, or ``default`` when it was not sent."""
        return self.params.get(name, default)


@dataclass
class Reply:
    """What a behaviour answers: a status, a JSON-ready body (or raw bytes) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    raw: bytes | None = None
