"""One frozen Settings value built from CLI flags and MOCKSERVER_* environment variables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = _PACKAGE_DIR.parent
_INTEGERS = frozenset(
    {
        "port",
        "seed",
        "max_body_bytes",
        "rate_limit",
        "rate_window_seconds",
        "threads",
        "workers",
        "shutdown_timeout",
        "body_timeout",
        "header_timeout",
        "webhook_attempts",
        "webhook_timeout",
        "journal_size",
    }
)
LOG_FORMATS = ("text", "json")
_LOOPBACK_OR_ANY = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})  # noqa: S104 - names, not binding
_KINDS = {"scale": "number", "webhook_retry_scale": "number", "today": "date (YYYY-MM-DD)"} | dict.fromkeys(
    _INTEGERS, "integer"
)


def _bundled(name: str) -> Path:
    """Find a data file: the checkout's copy (editable install) or the wheel's copy."""
    in_checkout = _REPO_DIR / name
    return in_checkout if in_checkout.exists() else _PACKAGE_DIR / "data" / name


def default_spec_path() -> Path:
    """The Invoicing API's openapi.yaml."""
    return _bundled("openapi.yaml")


def default_fixtures_dir() -> Path:
    """The fixtures folder: companies, keys, reference data."""
    return _bundled("fixtures")


class SettingsError(ValueError):
    """A setting that cannot be used, described in one line for the person who gave it."""


# The URL schemes --db takes for a PostgreSQL server (anything else with "://" is refused; no scheme: a file).
POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class Settings:
    """Everything that configures one sandbox instance."""

    spec_path: Path = field(default_factory=default_spec_path)
    fixtures_dir: Path = field(default_factory=default_fixtures_dir)
    host: str = "127.0.0.1"
    port: int = 8080
    seed: int = 1
    scale: float = 1.0
    strict: bool = False
    lenient: bool = False  # serve a spec that breaks the OpenAPI schema, warning what is wrong
    domain: str | None = None  # the domain plug-in; None: as the spec's x-sandbox-domain says, 'none': none
    today: dt.date | None = None
    max_body_bytes: int = 1024 * 1024
    rate_limit: int = 1000
    rate_window_seconds: int = 3600
    threads: int = 8
    db: str | None = None
    workers: int = 1
    public_url: str | None = None
    log_format: str = "text"
    quiet: bool = False
    shutdown_timeout: int = 10
    body_timeout: int = 10
    header_timeout: int = 10
    webhook_allow: str = ""  # comma-separated hosts, addresses and networks beside loopback
    webhook_attempts: int = 8
    webhook_timeout: int = 10
    webhook_retry_scale: float = 1.0
    admin_token: str | None = None  # guards /__sandbox; None: a random one, printed in the banner
    journal_size: int = 1000
    journal_bodies: bool = False
    helper_process: bool = False  # PDFs rendered in a helper process per worker (the served sandbox's choice)

    def __post_init__(self) -> None:
        """Refuse settings no sandbox can run with, whichever way they came (flags, environment, WSGI entry)."""
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise SettingsError(f"--scale must be a number of at least 0, not {self.scale:g}.")
        scheme, colon_slashes, _ = (self.db or "").partition("://")
        if colon_slashes and scheme not in POSTGRES_SCHEMES:  # the URL is not echoed: it may hold a password
            raise SettingsError(
                f"--db takes a SQLite database file's path (state.db) or a postgresql:// URL, not a {scheme}:// URL."
            )
        for flag, value in (
            ("--workers", self.workers),
            ("--threads", self.threads),
            ("--rate-limit", self.rate_limit),
            ("--shutdown-timeout", self.shutdown_timeout),
            ("--body-timeout", self.body_timeout),
            ("--header-timeout", self.header_timeout),
            ("--webhook-attempts", self.webhook_attempts),
            ("--webhook-timeout", self.webhook_timeout),
        ):
            if value < 1:
                raise SettingsError(f"{flag} must be at least 1, not {value}.")
        if self.journal_size < 0:
            raise SettingsError(f"--journal-size must be 0 (no journal) or more, not {self.journal_size}.")
        if self.rate_window_seconds < 1:
            raise SettingsError(f"--rate-window must be at least 1 second, not {self.rate_window_seconds}.")
        if self.admin_token is not None and len(self.admin_token) < 8:
            raise SettingsError("--admin-token must be at least 8 characters long.")
        if not (math.isfinite(self.webhook_retry_scale) and self.webhook_retry_scale > 0):
            raise SettingsError(f"--webhook-retry-scale must be a number above 0, not {self.webhook_retry_scale:g}.")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"--log-format must be one of {', '.join(LOG_FORMATS)}, not {self.log_format!r}.")
        if self.public_url and not _is_http_url(self.public_url):
            raise SettingsError(
                f"--public-url must be an http(s) URL such as https://sandbox.example.com, not {self.public_url!r}."
            )

    @property
    def base_url(self) -> str:
        """The URL clients reach the sandbox at: links and the served spec use it, never a Host header."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104 - naming, not binding
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def base_urls_by_host(self) -> dict[str, str]:
        """The Host headers that name this sandbox another way on loopback (``localhost:PORT``), each's base URL.

        Links follow the base URL a client called, but a Host header is never copied into them as it is:
        only these names of the same server and port are followed; with ``--public-url`` none is.
        """
        if self.public_url or self.host not in _LOOPBACK_OR_ANY:
            return {}
        return {f"{name}:{self.port}": f"http://{name}:{self.port}" for name in ("localhost", "127.0.0.1", "[::1]")}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read MOCKSERVER_<FIELD> variables, then apply explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for spec in dataclasses.fields(cls):
            raw = env.get(f"MOCKSERVER_{spec.name.upper()}")
            if raw is not None and raw != "":
                try:
                    values[spec.name] = _parse(spec.name, raw)
                except ValueError:
                    raise SettingsError(
                        f"MOCKSERVER_{spec.name.upper()}={raw!r} is not a valid {_KINDS.get(spec.name, 'value')}."
                    ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The MOCKSERVER_* variables that reproduce these settings in another process."""
        env: dict[str, str] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is not None:
                env[f"MOCKSERVER_{spec.name.upper()}"] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return env


def _is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host and nothing after its path."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.query or parts.fragment)


def _parse(name: str, raw: str) -> object:
    """Convert one environment string to the type of the named field."""
    if name in {"spec_path", "fixtures_dir"}:
        return Path(raw)
    if name in _INTEGERS:
        return int(raw)
    if name in {"scale", "webhook_retry_scale"}:
        return float(raw)
    if name in {"strict", "lenient", "quiet", "journal_bodies", "helper_process"}:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if name == "today":
        return dt.date.fromisoformat(raw)
    return raw
