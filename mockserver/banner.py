"""The start-up message: where the sandbox listens and which keys to use."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit, urlunsplit

from mockserver.settings import Settings
from mockserver.spec import SpecIndex
from mockserver.state.fixtures import Fixtures


def banner(settings: Settings, index: SpecIndex, fixtures: Fixtures, *, show_admin_token: bool = True) -> str:
    """Base URL, docs URL and every sandbox key, ready to paste into curl."""
    root = settings.base_url
    title = index.document.get("info", {}).get("title", "API")
    lines = [
        f"{title} sandbox (seed {settings.seed}, scale {settings.scale:g}{', strict' if settings.strict else ''})",
        f"  base URL  {root}{index.base_path}",
        f"  docs      {root}/docs   spec {root}/openapi.json",
        f"  state     {_state(settings)}",
        f"  control   {root}/__sandbox   admin token {_admin_token(settings, show_admin_token)}",
        "  keys (Authorization: Bearer <key>):",
    ]
    now = dt.datetime.now(dt.UTC)
    for company in fixtures.companies:
        for key in company.keys:
            expired = "  [expired]" if key.expires_at and key.expires_at <= now else ""
            lines.append(f"    {company.name:<12} {key.name:<28} {key.key}{expired}")
    example = next(
        (op.path for op in index.operations if op.method == "GET" and "{" not in op.path and op.security),
        None,
    )
    if example is not None:
        url = f"{root}{index.base_path}{example}"
        lines.append(f"  try: curl -H 'Authorization: Bearer {_first_key(fixtures)}' {url}")
    return "\n".join(lines)


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


def _first_key(fixtures: Fixtures) -> str:
    return next((k.key for c in fixtures.companies for k in c.keys), "<key>")
