"""How a run sends a credential on each operation: the scheme the operation's security asks for, applied its way.

The credential given for a role (``--key full=...``) goes where the chosen scheme says: an API key raw in
its header, query parameter or cookie; HTTP basic as ``user:password`` (a key with no colon is the user name,
with an empty password, as ``curl -u key:`` sends it); HTTP bearer and OpenID Connect as ``Bearer <key>``;
OAuth2 as ``Bearer`` with a token fetched from the client-credentials tokenUrl when the key is
``client_id:client_secret`` (else the key is taken to be an access token already).

Per operation the first alternative of its ``security`` whose schemes the harness can send (and that
``--auth-scheme`` allows) wins; ``security: []`` sends nothing. A spec with no scheme at all gets
``Authorization: Bearer <key>`` on every request, as before; one that declares schemes but requires none
anywhere gets its first usable scheme on every operation.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from contracts.credentials.schemes import Operations, Scheme, literal_scheme, read_schemes
from contracts.credentials.tokens import TokenError, Tokens

if TYPE_CHECKING:
    from contracts.meter import Meter

BEARER = Scheme("", "http", http="bearer")  # a spec without security schemes: what the harness always sent


@dataclass(frozen=True)
class Applied:
    """What one request carries for a credential: headers, query parameters, cookies, and how (for messages)."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    how: str = ""  # "" when the request carries no credential (none given, or a public operation)
    problem: str = ""  # why the credential could not be sent as meant (no token could be obtained, ...)

    @property
    def carried(self) -> bool:
        """Whether the request was meant to carry the credential."""
        return bool(self.how)


class Credentials:
    """The spec's security schemes and operations, and how this run's choice sends a credential on each."""

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        base_url: str,
        chosen: tuple[str, ...] = (),
        token_url: str | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        self.schemes = read_schemes(document)
        self.operations = Operations(document)
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.tokens = tokens or Tokens()
        self.servers = _server_urls(document)
        self.literal: Scheme | None = None
        self.allowed: list[str] = []
        for name in chosen:
            literal = literal_scheme(name)
            if name in self.schemes:
                if not self.schemes[name].usable:
                    kind = self.schemes[name].kind
                    raise ValueError(f"--auth-scheme {name}: the harness cannot send {kind} credentials")
                self.allowed.append(name)
            elif literal is not None and len(chosen) == 1:
                self.literal = literal
            else:
                raise ValueError(f"--auth-scheme {name!r} is not a security scheme of the spec; {self.choices()}")
        if not chosen:
            self.allowed = [name for name, scheme in self.schemes.items() if scheme.usable]
        self.unreferenced = not (self.operations.referenced() & set(self.schemes))

    def choices(self) -> str:
        """The schemes one may name with ``--auth-scheme``, for messages."""
        usable = [scheme.label() for scheme in self.schemes.values() if scheme.usable]
        names = f"the spec's schemes: {', '.join(usable)}; or" if usable else "the spec declares no usable scheme; use"
        return f"{names} bearer, basic, header:NAME, query:NAME or cookie:NAME"

    def schemes_for(self, method: str, path: str, *, template: bool = False) -> tuple[Scheme, ...] | None:
        """The schemes a credential is sent by on this operation: () for none needed, None when none can be sent."""
        route = self.operations.find(method, path, template=template)
        security = route.security if route is not None else self.operations.default
        if security == []:
            return ()
        if self.literal is not None:
            return (self.literal,)
        if not self.schemes:
            return (BEARER,)
        if security is None or self.unreferenced:
            if not self.unreferenced:
                return ()  # the spec requires schemes elsewhere, not here
            first = next((self.schemes[name] for name in self.allowed), None)
            return (first,) if first is not None else None
        for alternative in security:
            if alternative and all(name in self.allowed for name in alternative):
                return tuple(self.schemes[name] for name in alternative)
        return () if () in security else None

    def apply(
        self, secret: str | None, method: str, path: str, *, template: bool = False, meter: Meter | None = None
    ) -> Applied:
        """What a request to ``method path`` carries for ``secret`` (nothing when it is None or not needed)."""
        if secret is None:
            return Applied()
        schemes = self.schemes_for(method, path, template=template)
        if schemes == ():
            return Applied()
        if schemes is None:
            route = self.operations.find(method, path, template=template)
            wanted = " or ".join(" and ".join(alt) for alt in (route.security if route else None) or [()])
            problem = f"the operation wants {wanted}, which the harness cannot send (or --auth-scheme excludes)"
            return Applied(how=f"no credential ({problem})", problem=problem)
        applied = Applied(how=" and ".join(scheme.label() for scheme in schemes))
        for scheme in schemes:
            applied = self._one(scheme, secret, applied, meter)
        return applied

    def _one(self, scheme: Scheme, secret: str, applied: Applied, meter: Meter | None) -> Applied:
        if scheme.kind == "apiKey":
            where = {"header": applied.headers, "query": applied.params, "cookie": applied.cookies}[scheme.location]
            where[scheme.param] = secret
        elif scheme.kind == "http" and scheme.http.lower() == "basic":
            applied.headers["Authorization"] = f"Basic {basic_blob(secret)}"
        elif scheme.kind == "http" and scheme.http.lower() != "bearer":
            applied.headers["Authorization"] = f"{scheme.http[:1].upper()}{scheme.http[1:]} {secret}"
        elif scheme.kind == "oauth2" and ":" in secret and (scheme.token_url or self.token_url):
            client_id, _, client_secret = secret.partition(":")
            url = self.token_endpoint(scheme)
            try:
                applied.headers["Authorization"] = f"Bearer {self.tokens.get(url, client_id, client_secret, meter)}"
            except TokenError as exc:
                return Applied(applied.headers, applied.params, applied.cookies, applied.how, str(exc))
        else:
            applied.headers["Authorization"] = f"Bearer {secret}"
        return applied

    def token_endpoint(self, scheme: Scheme) -> str:
        """Where to fetch a token: ``--token-url``, else the tokenUrl on the target's server (see the README)."""
        if self.token_url:
            return self.token_url
        url = scheme.token_url
        if not urlsplit(url).scheme:
            return urljoin(self.base_url + "/", url.lstrip("/"))
        for server in self.servers:
            if url.startswith(server + "/") or url == server:
                return self.base_url + url[len(server) :]
        return url

    def hint(self, role: str) -> str:
        """What to do when ``role``'s credential is refused."""
        return f"check the {role} key (--key {role}=...) or choose how it is sent with --auth-scheme ({self.choices()})"


def basic_blob(secret: str) -> str:
    """``base64(user:password)`` for a ``user:password`` credential, or for ``key:`` when it has no colon."""
    user, _, password = secret.partition(":")
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def refused(role: str | None, method: str, status: int) -> bool:
    """Whether an answer refuses a credential meant to be valid: 401, or 403 to the full key or to a read."""
    return status == 401 or (status == 403 and (role == "full" or method.upper() in ("GET", "HEAD", "OPTIONS")))


def _server_urls(document: Mapping[str, Any]) -> list[str]:
    """The documented server URLs (OpenAPI 3 ``servers``, Swagger 2 host and basePath), longest first."""
    urls = [str(s.get("url", "")) for s in document.get("servers") or () if isinstance(s, dict)]
    if document.get("host"):
        for scheme in document.get("schemes") or ("https",):
            urls.append(f"{scheme}://{document['host']}{document.get('basePath', '')}")
    found = [url.rstrip("/") for url in urls if url.startswith(("http://", "https://")) and "{" not in url]
    return sorted(found, key=len, reverse=True)
