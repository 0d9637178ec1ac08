"""The start-up message: where the sandbox listens, which keys to use, and how each scheme takes them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import urlsplit, urlunsplit

from mockserver.platform.credentials import curl_example, token_request_example
from mockserver.platform.oauth import served_token_paths, server_url
from mockserver.platform.scopes import ScopeModel
from mockserver.settings import Settings
from mockserver.spec import SpecIndex
from mockserver.spec.security import SecurityScheme, bearer_scheme, security_schemes, url_path
from mockserver.state.fixtures import Fixtures


def banner(settings: Settings, index: SpecIndex, fixtures: Fixtures, *, show_admin_token: bool = True) -> str:
    """Base URL, docs URL, every sandbox key with its role, and a ready-to-paste call per security scheme."""
    root = settings.base_url
    title = index.document.get("info", {}).get("title", "API")
    lines = [
        f"{title} sandbox (seed {settings.seed}, scale {settings.scale:g}{', strict' if settings.strict else ''})",
        f"  base URL  {root}{index.base_path}",
        *_listening(settings),
        f"  docs      {root}/docs   spec {root}/openapi.json",
        f"  state     {_state(settings)}",
        f"  control   {root}/__sandbox   admin token {_admin_token(settings, show_admin_token)}",
        "  keys (each works with every security scheme below):",
    ]
    now = dt.datetime.now(dt.UTC)
    for company in fixtures.companies:
        for key in company.keys:
            expired = "  [expired]" if key.expires_at and key.expires_at <= now else ""
            lines.append(f"    {company.name:<12} {key.name:<28} {key.key}  {_grants(key.scopes)}{expired}")
    lines.extend(_auth_lines(root, index, fixtures))
    return "\n".join(lines)


def _listening(settings: Settings) -> list[str]:
    """Where the server itself listens, when a --public-url names another address (else the base URL says it)."""
    if not settings.public_url:
        return []
    local = dataclasses.replace(settings, public_url=None).base_url
    return [f"  listens   {local}   (behind the public URL above)"]


def _grants(grants: tuple[str, ...]) -> str:
    """A key's grants for the banner: its role (full, read-only), or its scope patterns."""
    if "*" in grants or grants == ("*:read",):
        return ScopeModel.role(grants)
    return " ".join(grants)


def _auth_lines(root: str, index: SpecIndex, fixtures: Fixtures) -> list[str]:
    """Per security scheme the spec uses, one ready-to-paste call (and the token request of an oauth2 one)."""
    schemes = security_schemes(index.security_schemes)
    named = [name for op in index.operations for requirement in op.security for name in requirement]
    used = {name: schemes.get(name) or bearer_scheme(name) for name in [*schemes, *named]}
    if not used:
        return ["  auth      none: every operation is public"]
    key = example_key(fixtures)
    lines = ["  auth (the spec's securitySchemes):"]
    for name, scheme in used.items():
        lines.append(f"    {name:<16} {curl_example(scheme, key, root + index.base_path + _example_path(index, name))}")
        if scheme.type == "oauth2":
            lines.extend(f"    {'':<16} {line}" for line in _token_lines(root, index, fixtures, scheme))
    return lines


def _example_path(index: SpecIndex, scheme: str) -> str:
    """A GET without path parameters that takes ``scheme`` alone (else with others, else any secured GET)."""
    gets = [op for op in index.operations if op.method == "GET" and "{" not in op.path and op.security]
    alone = (op for op in gets if any(list(r) == [scheme] for r in op.security))
    among = (op for op in gets if any(scheme in r for r in op.security))
    found = next(alone, None) or next(among, None) or next(iter(gets), None)
    return found.path if found else ""


def _token_lines(root: str, index: SpecIndex, fixtures: Fixtures, scheme: SecurityScheme) -> list[str]:
    """How to get an access token for an oauth2 scheme: the grant's request, or a key as the token."""
    client = next((c for company in fixtures.companies for c in company.clients), None)
    routed = (index.base_path + op.path for op in index.operations)  # the spec's own token operation, if any
    served = {*served_token_paths(index, [scheme], "/__sandbox"), *routed}
    paths = [url_path(url, server_url(index.document)) for url in scheme.token_urls]
    path = next((p for p in paths if p in served), None)
    if client is None or path is None:
        return ["(a sandbox key is accepted as the access token)"]
    request = token_request_example(root + path, client.client_id, client.client_secret)
    return [f"token: {request}", "(then send its access_token as the Bearer token; a sandbox key works as one too)"]


def _admin_token(settings: Settings, show: bool) -> str:
    """The admin token when the sandbox made it up; one the user chose is not echoed."""
    if not settings.admin_token:
        return "(none)"
    return settings.admin_token if show else "(as set by --admin-token / MOCKSERVER_ADMIN_TOKEN)"


def _state(settings: Settings) -> str:
    """Where the state lives, without a password that a database URL may carry."""
    workers = f", {settings.workers} workers" if settings.workers > 1 else ""
    if not settings.db:
        return "in memory, lost on exit (--db FILE keeps it)"
    return f"{redact(settings.db)}{workers}"


def redact(db: str) -> str:
    """A database location fit to print: a URL's password replaced by ***."""
    parts = urlsplit(db)
    if parts.password is None:
        return db
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def example_key(fixtures: Fixtures) -> str:
    """The key the examples (banner, explorer) use: the first full key that has not expired (else the first key)."""
    now = dt.datetime.now(dt.UTC)
    keys = [k for c in fixtures.companies for k in c.keys]
    full = (k.key for k in keys if "*" in k.scopes and (k.expires_at is None or k.expires_at > now))
    return next(full, next((k.key for k in keys), "<key>"))
