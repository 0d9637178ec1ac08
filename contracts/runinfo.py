"""What a report says about the run itself: target, spec and its hash, seed, versions, timing; never a secret."""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.http import public_url
from contracts.target import ROLES, Target

if TYPE_CHECKING:
    from contracts.probe import Reach

# The distributions whose versions decide what a run sends and checks ("invoice-sandbox" ships `contracts`).
_DISTRIBUTIONS = {"contracts": "invoice-sandbox", "schemathesis": "schemathesis", "hypothesis": "hypothesis"}


@dataclass
class RunInfo:
    """The run's metadata, for the JSON and JUnit reports (key roles only, never the keys nor the admin token)."""

    base_url: str
    spec_path: str
    spec_sha256: str
    seed: int
    max_examples: int
    suites: list[str]
    key_roles: list[str]
    auth_scheme: list[str]  # --auth-scheme (empty: each operation's first scheme the harness can send)
    token_url: str
    setup_hook: bool
    admin_token: bool  # whether one was given, never its value
    started_at: str
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    probe: Reach | None = None
    operations: str = ""  # --operations / --changed-since: how many operations were chosen, and how
    shrink: bool = True  # False: --no-shrink, the rules state machine's failures reported as found

    @classmethod
    def of(cls, target: Target, started: dt.datetime) -> RunInfo:
        """Describe ``target``, run from ``started`` (UTC)."""
        return cls(
            base_url=public_url(target.api),
            spec_path=str(target.spec_path),
            spec_sha256=sha256(target.spec_path),
            seed=target.seed,
            max_examples=target.max_examples,
            suites=list(target.suites),
            key_roles=[role for role in ROLES if target.keys.get(role)],
            auth_scheme=list(target.auth_scheme),
            token_url=public_url(target.token_url) if target.token_url else "",
            setup_hook=bool(target.setup_hook),
            admin_token=bool(target.admin_token),
            started_at=started.astimezone(dt.UTC).isoformat(timespec="seconds"),
            versions=versions(),
            operations=target.selection,
            shrink=target.shrink,
        )


def sha256(path: Path) -> str:
    """The file's SHA-256 (empty when it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def versions() -> dict[str, str]:
    """Versions of the harness, Schemathesis, Hypothesis and Python."""
    found: dict[str, str] = {}
    for name, distribution in _DISTRIBUTIONS.items():
        try:
            found[name] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    found["python"] = platform.python_version()
    return found
