"""Shared short-lived values in one SQL table: idempotency keys, rate-limit windows, OAuth tokens.

Each call is one small transaction of its own (an upsert with ``RETURNING``), so every worker
process sees the same values and a claim is atomic. Expired rows are purged as writes go by.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from mockserver.jsonio import dumps
from mockserver.store.sql import decode

Execute = Callable[..., Any]
PURGE_EVERY = 500


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
    """The ``Ephemera`` interface in this process's memory, for a sandbox that no other process shares."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], tuple[Any, float]] = {}
        self._lock = threading.Lock()
        self._writes = 0

    def _wrote(self, now: float) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self._values = {k: v for k, v in self._values.items() if v[1] > now}

    def claim(self, namespace: str, key: str, value: Any, expires: float, now: float) -> Any | None:
        """Store a value unless a live one exists; return the live value when there is one."""
        with self._lock:
            current = self._values.get((namespace, key))
            if current is not None and current[1] > now:
                return current[0]
            self._values[(namespace, key)] = (value, expires)
            self._wrote(now)
        return None

    def get(self, namespace: str, key: str, now: float) -> Any | None:
        """The live value under a key."""
        current = self._values.get((namespace, key))
        return current[0] if current is not None and current[1] > now else None

    def set(self, namespace: str, key: str, value: Any, expires: float) -> None:
        """Store or replace a value."""
        with self._lock:
            self._values[(namespace, key)] = (value, expires)

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
            self._values[(namespace, key)] = (count, current[1])
            self._wrote(now)
        return count

    def purge(self, now: float) -> int:
        """Drop expired values."""
        with self._lock:
            before = len(self._values)
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
            return before - len(self._values)

    def clear(self, namespace: str | None = None) -> None:
        """Forget every value, or every value of one namespace."""
        with self._lock:
            self._values = {k: v for k, v in self._values.items() if namespace is not None and k[0] != namespace}
