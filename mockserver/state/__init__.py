"""The sandbox's in-memory state: per-company records, fixtures, seeding. No Flask here."""

from __future__ import annotations

from mockserver.state.store import Store, Tenant

__all__ = ["Store", "Tenant"]
