"""The spec's securitySchemes, read once into typed records: where each scheme's credential travels.

OpenAPI names five scheme types; each becomes one ``SecurityScheme`` saying where a client puts its
credential (``carrier``):

    apiKey          header / query / cookie, under the spec's ``name``
    http            basic (``Authorization: Basic``), bearer, or another ``Authorization: <Scheme>``
    oauth2          bearer (an access token), with its flows' token URLs and scopes
    openIdConnect   bearer (an ID or access token)
    mutualTLS       bearer: the sandbox serves plain HTTP, so a key stands in for the client certificate

A scheme an operation names but the spec never declares, or one too malformed to read, is taken as
bearer, so a lenient spec is still served. Token URLs keep the spec's text; ``resolve_url`` resolves a
relative one against the spec's server URL, as OpenAPI says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

BASIC, BEARER = "basic", "bearer"
API_KEY_PLACES = ("header", "query", "cookie")


@dataclass(frozen=True)
class OAuthFlow:
    """One OAuth2 flow of a scheme: its kind (``clientCredentials``...), URLs and declared scopes."""

    kind: str
    token_url: str
    authorization_url: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class SecurityScheme:
    """One security scheme: its name, OpenAPI type, and where its credential travels."""

    name: str
    type: str
    carrier: str  # "header", "query", "cookie", "basic", "bearer", or "authorization" (another http scheme)
    parameter: str = ""  # apiKey: the header, query parameter or cookie name
    http_scheme: str = BEARER  # http: the Authorization scheme as the spec spells it
    flows: tuple[OAuthFlow, ...] = ()
    description: str = ""

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every scope the scheme's OAuth2 flows declare, in the spec's order, each once."""
        return tuple(dict.fromkeys(scope for flow in self.flows for scope in flow.scopes))

    @property
    def token_urls(self) -> tuple[str, ...]:
        """The token URLs of the scheme's flows (as the spec writes them), each once."""
        return tuple(dict.fromkeys(flow.token_url for flow in self.flows if flow.token_url))

    @property
    def issues_client_credentials(self) -> bool:
        """Whether the spec documents the client-credentials flow for this scheme."""
        return any(flow.kind == "clientCredentials" for flow in self.flows)


def bearer_scheme(name: str) -> SecurityScheme:
    """The stand-in for a scheme an operation names but the spec does not declare (or garbles)."""
    return SecurityScheme(name, "http", BEARER)


def security_schemes(raw: Mapping[str, Any]) -> dict[str, SecurityScheme]:
    """Every declared scheme by name (``components.securitySchemes`` with its ``$ref``s resolved)."""
    return {str(name): read_scheme(str(name), value) for name, value in raw.items()}


def read_scheme(name: str, raw: Any) -> SecurityScheme:
    """One scheme from its OpenAPI object; a malformed one is bearer."""
    if not isinstance(raw, Mapping):
        return bearer_scheme(name)
    kind = str(raw.get("type") or "")
    description = str(raw.get("description") or "")
    if kind == "apiKey":
        place, parameter = str(raw.get("in") or "header"), str(raw.get("name") or "")
        if place not in API_KEY_PLACES or not parameter:
            return bearer_scheme(name)
        return SecurityScheme(name, kind, place, parameter=parameter, description=description)
    if kind == "http":
        spelled = str(raw.get("scheme") or BEARER).strip() or BEARER
        lowered = spelled.lower()
        carrier = lowered if lowered in (BASIC, BEARER) else "authorization"
        return SecurityScheme(name, kind, carrier, http_scheme=spelled, description=description)
    if kind == "oauth2":
        return SecurityScheme(name, kind, BEARER, flows=_flows(raw.get("flows")), description=description)
    return SecurityScheme(name, kind or "http", BEARER, description=description)


def _flows(raw: Any) -> tuple[OAuthFlow, ...]:
    """The flows of an oauth2 scheme, skipping any that is not an object."""
    if not isinstance(raw, Mapping):
        return ()
    flows = []
    for kind, flow in raw.items():
        if not isinstance(flow, Mapping):
            continue
        scopes = flow.get("scopes")
        flows.append(
            OAuthFlow(
                kind=str(kind),
                token_url=str(flow.get("tokenUrl") or ""),
                authorization_url=str(flow.get("authorizationUrl") or ""),
                scopes=tuple(str(s) for s in scopes) if isinstance(scopes, Mapping) else (),
            )
        )
    return tuple(flows)


def resolve_url(url: str, server_url: str) -> str:
    """A URL of the spec resolved against its server URL (OpenAPI: relative URLs are relative to it)."""
    base = server_url if server_url.endswith("/") else server_url + "/"
    return urljoin(base, url)


def url_path(url: str, server_url: str) -> str:
    """The path part of a spec URL once resolved (``/oauth/token``), "" when it has none."""
    path = urlsplit(resolve_url(url, server_url)).path
    return path if path.startswith("/") and path != "/" else ""
