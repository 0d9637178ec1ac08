"""What the control surface drives for one app, and the facts about it (paths, limits, its own spec)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mockserver.behaviours.customer import CustomerAction, customer_actions
from mockserver.behaviours.engine import Engine
from mockserver.platform.auth import KeyRing
from mockserver.platform.control_state import ControlState
from mockserver.platform.faults import FaultInjector
from mockserver.platform.idempotency import IdempotencyStore
from mockserver.platform.journal import Journal
from mockserver.platform.ratelimit import RateLimiter
from mockserver.settings import Settings
from mockserver.spec.yaml12 import SAFE_LOADER
from mockserver.state.fixtures import Fixtures

PREFIX = "/__sandbox"
STATE_PATH = f"{PREFIX}/state"
STATE_BODY_LIMIT = 256 * 1024 * 1024  # an import may be far bigger than an API body; bigger still: mockserver import
SPEC_PATH = Path(__file__).resolve().parent.parent / "control.yaml"


def new_admin_token() -> str:
    """A fresh admin token for a sandbox started without ``--admin-token``."""
    return "sbx_admin_" + secrets.token_urlsafe(24)


def control_document() -> dict[str, Any]:
    """The control API's OpenAPI document."""
    loaded: dict[str, Any] = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506
    return loaded


def presented_credential(authorization: str | None) -> tuple[str, str]:
    """An Authorization header's scheme (lower case) and credential: ``("bearer", "sk_...")``."""
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower(), presented.strip()


@dataclass
class Sandbox:
    """Everything the control surface drives, for one app."""

    engine: Engine
    keyring: KeyRing
    limiter: RateLimiter
    idempotency: IdempotencyStore
    journal: Journal
    faults: FaultInjector
    control: ControlState
    fixtures: Fixtures
    settings: Settings
    admin_token: str
    wake_webhooks: Callable[[], None] = lambda: None
    actions: dict[tuple[str, str], CustomerAction] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Find the spec's customer actions once."""
        self.actions = customer_actions(self.engine.index)

    def is_admin(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries this sandbox's admin token (compared in constant time)."""
        scheme, presented = presented_credential(authorization)
        return (
            scheme == "bearer"
            and bool(presented)
            and hmac.compare_digest(presented.encode(), self.admin_token.encode())
        )

    @property
    def default_company(self) -> int:
        """The company a request names when it names none: the first fixture company."""
        return self.fixtures.companies[0].id if self.fixtures.companies else 1

    def settle(self) -> None:
        """Run what the sandbox's date causes in every company now (after a clock move, a reset, an import)."""
        self.engine.forget_followed()
        for company_id in self.keyring.companies:
            self.engine.follow_clock(company_id)
        self.wake_webhooks()
