"""Which key role a request's credential is replayed as."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contracts.target import Target


def role_of(key: str | None, role: str | None, target: Target, *, bearer: bool = False) -> str | None:
    """The client's role when it sent that role's own key the spec's way, else None.

    None: no key, a made-up key, the admin token as a bearer; such a request's credential is kept as sent,
    redacted to its variable.
    """
    if key is None or bearer or role is None or target.keys.get(role) != key:
        return None
    return role
