"""Load the fixtures folder: companies, their keys and OAuth clients, and reference records."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mockserver.spec.yaml12 import SAFE_LOADER
from mockserver.state.ratepolicy import RatePolicy


@dataclass(frozen=True)
class KeyFixture:
    """A sandbox API key: the secret, a display name, scope patterns, expiry, IP allowlist and own rate limit."""

    key: str
    name: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime | None = None
    allowed_ips: tuple[str, ...] = ()
    rate_limit: RatePolicy | None = None  # None: the sandbox-wide --rate-limit applies


@dataclass(frozen=True)
class ClientFixture:
    """An OAuth2 client-credentials client."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class CompanyFixture:
    """One tenant of the sandbox with its credentials and profile."""

    id: int
    name: str
    slug: str
    profile: dict[str, Any]
    keys: tuple[KeyFixture, ...]
    clients: tuple[ClientFixture, ...]


@dataclass(frozen=True)
class Fixtures:
    """Everything loaded from the fixtures folder."""

    companies: tuple[CompanyFixture, ...]
    reference: dict[str, list[dict[str, Any]]]


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class FixturesError(Exception):
    """A fixtures file that cannot be used, in one line."""


def _rate_policy(key_name: str, value: Any) -> RatePolicy | None:
    """A key's ``rate_limit: {limit, window_seconds}`` as a policy (a bad one is a FixturesError naming the key)."""
    if value is None:
        return None
    where = f"companies.yaml, key {key_name!r}: rate_limit"
    if not isinstance(value, dict) or set(value) != {"limit", "window_seconds"}:
        raise FixturesError(f"{where} must be a mapping of exactly limit and window_seconds, not {value!r}.")
    try:
        return RatePolicy(value["limit"], value["window_seconds"])
    except ValueError as exc:
        raise FixturesError(f"{where}: {exc}.") from None


def _read(path: Path) -> Any:
    """A YAML file's content (a file that does not parse is a FixturesError naming it)."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise FixturesError(f"{path} is not valid YAML{where}.") from None


def load_fixtures(directory: Path) -> Fixtures:
    """Read companies.yaml and the optional reference.yaml (reference records, for any spec) from ``directory``."""
    try:
        return _load(directory)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise FixturesError(f"the fixtures in {directory} are not in the expected shape ({detail}).") from None


def _load(directory: Path) -> Fixtures:
    raw = _read(directory / "companies.yaml") or {}
    companies = tuple(
        CompanyFixture(
            id=int(c["id"]),
            name=str(c["name"]),
            slug=str(c.get("slug", c["name"])),
            profile={k: v for k, v in c.items() if k not in {"keys", "oauth_clients"}},
            keys=tuple(
                KeyFixture(
                    key=str(k["key"]),
                    name=str(k["name"]),
                    scopes=tuple(k.get("scopes", ())),
                    expires_at=_timestamp(k.get("expires_at")),
                    allowed_ips=tuple(k.get("allowed_ips", ())),
                    rate_limit=_rate_policy(str(k["name"]), k.get("rate_limit")),
                )
                for k in c.get("keys", ())
            ),
            clients=tuple(
                ClientFixture(str(o["client_id"]), str(o["client_secret"]), tuple(o.get("scopes", ())))
                for o in c.get("oauth_clients", ())
            ),
        )
        for c in raw.get("companies", ())
    )
    return Fixtures(companies=companies, reference=read_reference(directory / "reference.yaml"))


def read_reference(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Reference records by resource from a YAML file (none when the file does not exist)."""
    if not path.exists():
        return {}
    reference = _read(path) or {}
    if not isinstance(reference, dict) or not all(isinstance(rows, list) for rows in reference.values()):
        raise FixturesError(f"{path} must map each resource name to a list of records.")
    return reference


def with_reference(fixtures: Fixtures, reference: dict[str, list[dict[str, Any]]]) -> Fixtures:
    """Fixtures with a domain's reference records under them (the fixtures folder's own win per resource)."""
    return dataclasses.replace(fixtures, reference={**reference, **fixtures.reference})
