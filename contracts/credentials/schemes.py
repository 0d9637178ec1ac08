"""The spec's security schemes and each operation's security requirements, read once per run.

OpenAPI 3 ``components.securitySchemes`` and Swagger 2 ``securityDefinitions`` both become ``Scheme`` values;
an operation's ``security`` (else the document's) becomes alternatives, each a tuple of scheme names that must
all be sent together. ``Operations`` finds an operation for a concrete path (``/customers/12``) so the
hand-written suites send each request's credential the way its own operation asks for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts import spec_document

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
Requirement = tuple[str, ...]  # scheme names sent together (an entry of ``security``)
# Literal ``--auth-scheme`` values for a spec that declares no scheme (or the wrong one): sent on every operation.
LITERAL = re.compile(r"^(?:(bearer|basic)|(header|query|cookie):([!#$%&'*+.^_`|~0-9A-Za-z-]+))$", re.IGNORECASE)


@dataclass(frozen=True)
class Scheme:
    """One way of sending a credential: an API key (header, query, cookie), HTTP basic/bearer, OAuth2 or OIDC."""

    name: str
    kind: str  # apiKey | http | oauth2 | openIdConnect | mutualTLS (Swagger 2 ``basic`` is http basic)
    location: str = ""  # apiKey: header | query | cookie
    param: str = ""  # apiKey: the header, query parameter or cookie name
    http: str = ""  # http: the scheme as written (basic, bearer, ...)
    token_url: str = ""  # oauth2: the client-credentials flow's tokenUrl ("" when it has none)

    @property
    def usable(self) -> bool:
        """Whether the harness can send a credential this way (mutual TLS and Digest need more than a key)."""
        if self.kind == "apiKey":
            return self.location in ("header", "query", "cookie") and bool(self.param)
        if self.kind == "http":
            return self.http.lower() not in ("", "digest", "hoba", "mutual", "negotiate", "vapid", "scram-sha-256")
        return self.kind in ("oauth2", "openIdConnect")

    def describe(self) -> str:
        """How a credential travels this way, for messages (``an X-API-Key header``)."""
        if self.kind == "apiKey":
            where = {"header": "header", "query": "query parameter", "cookie": "cookie"}[self.location]
            return f"{_article(self.param)} {self.param} {where}"
        if self.kind == "http" and self.http.lower() == "basic":
            return "HTTP Basic (Authorization: Basic, user:password)"
        if self.kind == "http":
            return f"Authorization: {_http_prefix(self.http)} <key>"
        if self.kind == "oauth2" and self.token_url:
            return f"an OAuth2 client-credentials token from {self.token_url} (Authorization: Bearer)"
        return "Authorization: Bearer <token>"

    def label(self) -> str:
        """``'ApiKeyAuth' (an X-API-Key header)``."""
        return f"'{self.name}' ({self.describe()})" if self.name else self.describe()


def literal_scheme(text: str) -> Scheme | None:
    """A scheme from a literal ``--auth-scheme`` value (``bearer``, ``basic``, ``header:X-API-Key``, ...)."""
    match = LITERAL.match(text.strip())
    if match is None:
        return None
    if match.group(1):
        return Scheme("", "http", http=match.group(1).lower())
    return Scheme("", "apiKey", location=match.group(2).lower(), param=match.group(3))


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiox" else "a"


def _http_prefix(scheme: str) -> str:
    return "Bearer" if scheme.lower() == "bearer" else scheme[:1].upper() + scheme[1:]


def load_document(path: Path) -> dict[str, Any]:
    """The spec as a mapping (JSON read as JSON, anything else as YAML); empty when it cannot be read."""
    try:
        loaded = spec_document.read(path)
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def read_schemes(document: Mapping[str, Any]) -> dict[str, Scheme]:
    """Every security scheme the document declares, by name (local ``$ref``s followed)."""
    raw = document.get("securityDefinitions") or (document.get("components") or {}).get("securitySchemes") or {}
    found: dict[str, Scheme] = {}
    for name, node in _resolved(document, raw).items() if isinstance(raw, dict) else ():
        node = _resolved(document, node)
        if not isinstance(node, dict):
            continue
        kind = str(node.get("type", ""))
        if kind == "basic":  # Swagger 2
            found[str(name)] = Scheme(str(name), "http", http="basic")
        elif kind == "apiKey":
            where, param = str(node.get("in", "")), str(node.get("name", ""))
            found[str(name)] = Scheme(str(name), kind, location=where, param=param)
        elif kind == "http":
            found[str(name)] = Scheme(str(name), kind, http=str(node.get("scheme", "")))
        elif kind == "oauth2":
            found[str(name)] = Scheme(str(name), kind, token_url=_token_url(node))
        else:
            found[str(name)] = Scheme(str(name), kind)
    return found


def _token_url(node: Mapping[str, Any]) -> str:
    """The tokenUrl of the client-credentials flow (OpenAPI 3 ``clientCredentials``, Swagger 2 ``application``)."""
    flows = node.get("flows")
    if isinstance(flows, dict) and isinstance(flows.get("clientCredentials"), dict):
        return str(flows["clientCredentials"].get("tokenUrl") or "")
    if node.get("flow") == "application":
        return str(node.get("tokenUrl") or "")
    return ""


def _resolved(document: Mapping[str, Any], node: Any) -> Any:
    """``node``, or what its local ``$ref`` points at (a few hops at most)."""
    for _ in range(8):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return node


def requirements(security: Any) -> list[Requirement] | None:
    """A ``security`` value as alternatives (``[]``: public; an empty tuple: optional), None when absent."""
    if not isinstance(security, list):
        return None
    return [tuple(str(name) for name in entry) for entry in security if isinstance(entry, dict)]


@dataclass(frozen=True)
class Route:
    """One operation: method, path template, its pattern, and the security alternatives it declares."""

    method: str
    template: str
    pattern: re.Pattern[str]
    security: list[Requirement] | None  # None: the operation and the document declare none


class Operations:
    """The spec's operations, found by method and concrete path, with their security alternatives."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.default = requirements(document.get("security"))
        routes: list[Route] = []
        paths = document.get("paths")
        for template, item in paths.items() if isinstance(paths, dict) else ():
            item = _resolved(document, item)
            if not isinstance(item, dict):
                continue
            for method in METHODS:
                operation = item.get(method)
                if isinstance(operation, dict):
                    own = requirements(operation.get("security"))
                    security = own if own is not None else self.default
                    routes.append(Route(method.upper(), str(template), _pattern(str(template)), security))
        # Literal segments win over parameters: /invoices/search before /invoices/{id}.
        self.routes = sorted(routes, key=lambda route: route.template.count("{"))
        self._by_template = {(route.method, route.template): route for route in routes}

    def find(self, method: str, path: str, *, template: bool = False) -> Route | None:
        """The operation ``method path`` calls (``path`` concrete, or a template when ``template``)."""
        method = method.upper()
        if template:
            return self._by_template.get((method, path))
        path = path.split("?", 1)[0] or "/"
        return next((r for r in self.routes if r.method == method and r.pattern.fullmatch(path)), None)

    def referenced(self) -> set[str]:
        """Every scheme name some operation (or the document) requires."""
        names = {name for route in self.routes for alt in route.security or () for name in alt}
        return names | {name for alt in self.default or () for name in alt}


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template.rstrip("/") or "/")
    body = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts if part)
    return re.compile(body + "/?")
