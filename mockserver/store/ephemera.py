"""Shared short-lived values in one SQL table: idempotency keys, rate-limit windows, OAuth tokens.

Each call is one small transaction of its own (an upsert with ``RETURNING``), so every worker
process sees the same values and a claim is atomic. Expired rows are purged as writes go by.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from mockserver.jsonio import dumps
from mockserver.store.sql import decode

Execute = Callable[..., Any]
PURGE_EVERY = 500
# About 100 MB of remembered idempotent responses at most; past it the soonest to expire are forgotten.
MEMORY_MAX_ENTRIES = 50_000


class SqlEphemera:
    """The ``Ephemera`` interface over the ``ephemera`` table of a SQL store."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Execute]],
        statements: Callable[[], AbstractContextManager[Execute]] | None = None,
    ) -> None:
        self._transaction = transaction
        self._statement = statements or transaction  # single statements need no transaction of their own
        self._writes = 0
        self._lock = threading.Lock()

    def _wrote(self, now: float) -> None:
        with self._lock:
            self._writes += 1
            due = self._writes % PURGE_EVERY == 0
        if due:
            self.purge(now)

    def claim(self, namespace: str, key: str, value: Any, expires: float, now: float) -> Any | None:
        """Store a value unless a live one exists, atomically; return the live value when there is one."""
        with self._transaction() as run:
            claimed = run(
                "INSERT INTO ephemera (namespace, key, value, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
                "WHERE ephemera.expires <= ? RETURNING 1",
                (namespace, key, dumps(value).decode(), expires, now),
            ).fetchone()
            existing = None
            if claimed is None:
                row = run("SELECT value FROM ephemera WHERE namespace = ? AND key = ?", (namespace, key)).fetchone()
                existing = decode(row[0]) if row else None
        self._wrote(now)
        return existing

    def get(self, namespace: str, key: str, now: float) -> Any | None:
        """The live value under a key."""
        with self._statement() as run:
            row = run(
                "SELECT value FROM ephemera WHERE namespace = ? AND key = ? AND expires > ?", (namespace, key, now)
            ).fetchone()
        return decode(row[0]) if row else None

    def set(self, namespace: str, key: str, value: Any, expires: float) -> None:
        """Store or replace a value."""
        with self._statement() as run:
            run(
                "INSERT INTO ephemera (namespace, key, value, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
                (namespace, key, dumps(value).decode(), expires),
            )

    def discard(self, namespace: str, key: str) -> None:
        """Forget a key."""
        with self._statement() as run:
            run("DELETE FROM ephemera WHERE namespace = ? AND key = ?", (namespace, key))

    def increment(self, namespace: str, key: str, expires: float, now: float) -> int:
        """Add one to a counter that restarts from 1 once expired; return the new count."""
        with self._statement() as run:
            row = run(
                "INSERT INTO ephemera (namespace, key, value, expires) VALUES (?, ?, '1', ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET "
                "value = CASE WHEN ephemera.expires <= ? THEN '1' "
                "ELSE CAST(CAST(ephemera.value AS BIGINT) + 1 AS TEXT) END, "
                "expires = CASE WHEN ephemera.expires <= ? THEN excluded.expires ELSE ephemera.expires END "
                "RETURNING value",
                (namespace, key, expires, now, now),
            ).fetchone()
        self._wrote(now)
        return int(row[0])

    def purge(self, now: float) -> int:
        """Drop expired values."""
        with self._statement() as run:
            cursor = run("DELETE FROM ephemera WHERE expires <= ?", (now,))
            return int(getattr(cursor, "rowcount", 0) or 0)

    def clear(self, namespace: str | None = None) -> None:
        """Forget every value, or every value of one namespace."""
        with self._statement() as run:
            if namespace is None:
                run("DELETE FROM ephemera", ())
            else:
                run("DELETE FROM ephemera WHERE namespace = ?", (namespace,))


class MemoryEphemera:
    """The ``Ephemera`` interface in this process's memory, for a sandbox that no other process shares.

    A heap of expiry times makes purging cheap enough to do on every write, and at most
    ``max_entries`` values are kept: past that, the ones closest to expiring go first, so a long
    soak of new idempotency keys costs bounded memory instead of a day's worth of responses.
    """

    def __init__(self, max_entries: int = MEMORY_MAX_ENTRIES) -> None:
        self._values: dict[tuple[str, str], tuple[Any, float]] = {}
        self._expiries: list[tuple[float, tuple[str, str]]] = []  # a heap; stale entries are skipped
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def __len__(self) -> int:
        """How many values are held, expired ones not yet purged included."""
        return len(self._values)

    def _store(self, key: tuple[str, str], value: Any, expires: float) -> None:
        """Keep a value (the lock is held) and remember when it expires."""
        current = self._values.get(key)
        self._values[key] = (value, expires)
        if current is None or current[1] != expires:
            heapq.heappush(self._expiries, (expires, key))
            if len(self._expiries) > 2 * len(self._values) + 1024:  # too many stale entries: rebuild
                self._expiries = [(when, k) for k, (_, when) in self._values.items()]
                heapq.heapify(self._expiries)

    def _drop_soonest(self, now: float | None) -> bool:
        """Drop the value closest to expiring (only when expired by ``now``, unless ``now`` is None)."""
        while self._expiries and (now is None or self._expiries[0][0] <= now):
            expires, key = heapq.heappop(self._expiries)
            current = self._values.get(key)
            if current is not None and current[1] == expires:
                del self._values[key]
                return True
        return False

    def _wrote(self, now: float) -> None:
        """Purge what has expired, then keep within the cap (the lock is held)."""
        while self._drop_soonest(now):
            pass
        while len(self._values) > self._max_entries and self._drop_soonest(None):
            pass

    def claim(self, namespace: str, key: str, value: Any, expires: float, now: float) -> Any | None:
        """Store a value unless a live one exists; return the live value when there is one."""
        with self._lock:
            current = self._values.get((namespace, key))
            if current is not None and current[1] > now:
                return current[0]
            self._store((namespace, key), value, expires)
            self._wrote(now)
        return None

    def get(self, namespace: str, key: str, now: float) -> Any | None:
        """The live value under a key."""
        current = self._values.get((namespace, key))
        return current[0] if current is not None and current[1] > now else None

    def set(self, namespace: str, key: str, value: Any, expires: float) -> None:
        """Store or replace a value."""
        with self._lock:
            self._store((namespace, key), value, expires)
            while len(self._values) > self._max_entries and self._drop_soonest(None):
                pass

    def discard(self, namespace: str, key: str) -> None:
        """Forget a key."""
        with self._lock:
            self._values.pop((namespace, key), None)

    def increment(self, namespace: str, key: str, expires: float, now: float) -> int:
        """Add one to a counter that restarts from 1 once expired."""
        with self._lock:
            current = self._values.get((namespace, key))
            if current is None or current[1] <= now:
                current = (0, expires)
            count = int(current[0]) + 1
            self._store((namespace, key), count, current[1])
            self._wrote(now)
        return count

    def purge(self, now: float) -> int:
        """Drop expired values."""
        with self._lock:
            before = len(self._values)
            while self._drop_soonest(now):
                pass
            return before - len(self._values)

    def clear(self, namespace: str | None = None) -> None:
        """Forget every value, or every value of one namespace."""
        with self._lock:
            self._values = {k: v for k, v in self._values.items() if namespace is not None and k[0] != namespace}
            self._expiries = [(when, k) for k, (_, when) in self._values.items()]
            heapq.heapify(self._expiries)
