"""Users: a password is write-only and stored only as a salted PBKDF2 hash."""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from typing import TYPE_CHECKING

from mockserver.state.clock import Clock
from mockserver.state.fake import RefPicker
from mockserver.store import Record, Tenant

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

SCHEME = "pbkdf2_sha256"
ITERATIONS = 10_000  # a sandbox: enough to never hold a password in the clear, cheap enough to seed fast


def install(engine: Engine) -> None:
    """Hash every password written to a resource that has one."""
    shared: list[str] = []

    def seeded_password(record: Record, tenant: Tenant, rng: random.Random, pick_ref: RefPicker) -> None:
        """Seeded users share one hash of a random password nobody knows: hashing thousands would cost minutes."""
        if not shared:
            shared.append(hash_password(secrets.token_urlsafe(24)))
        record["password"] = shared[0]

    for resource in engine.index.resources.values():
        if "password" in resource.write_only:
            engine.hooks.add_derive(resource.name, hash_password_field)
            engine.hooks.add_seed_fix(resource.name, seeded_password)


def hash_password(password: str, salt: str | None = None) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<hex digest>`` for a password."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), ITERATIONS).hex()
    return f"{SCHEME}${ITERATIONS}${salt}${digest}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a stored hash (compared in constant time)."""
    scheme, iterations, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    return scheme == SCHEME and hmac.compare_digest(candidate, digest)


def hash_password_field(record: Record, tenant: Tenant, clock: Clock) -> None:
    """Derive hook: replace a clear-text password by its hash (a kept hash is left alone)."""
    password = record.get("password")
    if isinstance(password, str) and not password.startswith(f"{SCHEME}$"):
        record["password"] = hash_password(password)
