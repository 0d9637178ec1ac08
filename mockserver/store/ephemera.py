"""Shared short-lived values in one SQL table: idempotency keys, rate-limit windows, OAuth tokens.

Each call is one small transaction of its own (an upsert with ``RETURNING``), so every worker
process sees the same values and a claim is atomic. A write of one statement still queues where the
store's other writers do (on SQLite, the group commit's queue for the file's write lock): in
autocommit it polled SQLite's busy handler whenever another worker was writing, sleeping 1 to 33 ms
on the event loop (a rate-limit lease, about one in 64 requests).

Expired rows are purged as writes go by, one namespace at a time: namespaces keep different times
(idempotency keys and rate windows follow the sandbox's clock, which may be pinned months away;
leases and tokens real time), so a write in one never purges another by its own idea of now.

Keys are ordered in Python (code point order), never by SQL: PostgreSQL's ``ORDER BY`` and ``<``
follow the database's collation, which may skip punctuation, so ``items`` and ``trim`` sort the
keys they read and ``trim`` deletes the ones it dropped by name.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from operator import itemgetter
from typing import Any

from mockserver.jsonio import dumps
from mockserver.store.base import Signals, chunks
from mockserver.store.sql import decode

Execute = Callable[..., Any]
PURGE_EVERY = 500
DELETE_CHUNK = 500  # keys per DELETE of a trim: well within SQLite's bound-parameter limit
# Per namespace: about 30-60 MB of remembered idempotent responses at most; past it the soonest to expire go.
MEMORY_MAX_ENTRIES = 20_000


class SqlEphemera:
    """The ``Ephemera`` interface over the ``ephemera`` table of a SQL store."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Execute]],
        statements: Callable[[], AbstractContextManager[Execute]] | None = None,
        signals: Signals | None = None,
        *,
        writes: Callable[[], AbstractContextManager[Execute]] | None = None,
    ) -> None:
        self.signals = signals
        self._transaction = transaction
        self._statement = statements or transaction  # single statements need no transaction of their own
        self._write_statement = writes or self._statement  # single writes: where the store queues its writers
        self._writes: dict[str, int] = {}
        self._lock = threading.Lock()

    def _wrote(self, namespace: str, now: float) -> None:
        """Count a write; every ``PURGE_EVERY`` writes to a namespace, drop what expired in it."""
        with self._lock:
            self._writes[namespace] = self._writes.get(namespace, 0) + 1
            due = self._writes[namespace] % PURGE_EVERY == 0
        if due:
            with self._write_statement() as run:
                run("DELETE FROM ephemera WHERE namespace = ? AND expires <= ?", (namespace, now))

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
        self._wrote(namespace, now)
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
        with self._write_statement() as run:
            run(
                "INSERT INTO ephemera (namespace, key, value, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
                (namespace, key, dumps(value).decode(), expires),
            )

    def set_many(self, namespace: str, items: Sequence[tuple[str, Any]], expires: float) -> None:
        """Store or replace several values in one transaction."""
        if not items:
            return
        with self._transaction() as run:
            for key, value in items:
                run(
                    "INSERT INTO ephemera (namespace, key, value, expires) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
                    (namespace, key, dumps(value).decode(), expires),
                )

    def discard(self, namespace: str, key: str) -> None:
        """Forget a key."""
        with self._write_statement() as run:
            run("DELETE FROM ephemera WHERE namespace = ? AND key = ?", (namespace, key))

    def increment(self, namespace: str, key: str, expires: float, now: float, by: int = 1) -> int:
        """Add ``by`` to a counter that restarts from 0 once expired; return the new count."""
        with self._write_statement() as run:
            row = run(
                "INSERT INTO ephemera (namespace, key, value, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET "
                "value = CASE WHEN ephemera.expires <= ? THEN excluded.value "
                "ELSE CAST(CAST(ephemera.value AS BIGINT) + ? AS TEXT) END, "
                "expires = CASE WHEN ephemera.expires <= ? THEN excluded.expires ELSE ephemera.expires END "
                "RETURNING value",
                (namespace, key, str(by), expires, now, by, now),
            ).fetchone()
        self._wrote(namespace, now)
        return int(row[0])

    def items(self, namespace: str, now: float) -> list[tuple[str, Any]]:
        """Every live (key, value) of a namespace, by key ascending."""
        with self._statement() as run:
            rows = run(
                "SELECT key, value FROM ephemera WHERE namespace = ? AND expires > ?", (namespace, now)
            ).fetchall()
        return sorted(((str(key), decode(value)) for key, value in rows), key=itemgetter(0))

    def trim(self, namespace: str, keep: int) -> int:
        """Keep the ``keep`` greatest keys of a namespace, in one transaction; return how many went."""
        dropped = 0
        with self._transaction() as run:
            if keep <= 0:
                cursor = run("DELETE FROM ephemera WHERE namespace = ?", (namespace,))
                return int(getattr(cursor, "rowcount", 0) or 0)
            keys = sorted(str(row[0]) for row in run("SELECT key FROM ephemera WHERE namespace = ?", (namespace,)))
            for chunk in chunks(keys[: max(0, len(keys) - keep)], DELETE_CHUNK):
                marks = ", ".join("?" * len(chunk))
                cursor = run(f"DELETE FROM ephemera WHERE namespace = ? AND key IN ({marks})", (namespace, *chunk))
                dropped += int(getattr(cursor, "rowcount", 0) or 0)
        return dropped

    def purge(self, now: float) -> int:
        """Drop expired values."""
        with self._write_statement() as run:
            cursor = run("DELETE FROM ephemera WHERE expires <= ?", (now,))
            return int(getattr(cursor, "rowcount", 0) or 0)

    def clear(self, namespace: str | None = None) -> None:
        """Forget every value, or every value of one namespace."""
        with self._write_statement() as run:
            if namespace is None:
                run("DELETE FROM ephemera", ())
            else:
                run("DELETE FROM ephemera WHERE namespace = ?", (namespace,))


class MemoryEphemera:
    """The ``Ephemera`` interface in this process's memory, for a sandbox that no other process shares.

    A heap of expiry times per namespace makes purging cheap enough to do on every write, and each
    namespace keeps at most ``max_entries`` values: past that, its values closest to expiring go
    first. A soak of new idempotency keys then costs bounded memory instead of a day's worth of
    responses, and never evicts an OAuth token or a rate-limit window to make room.
    """

    signals: Signals | None = None  # one process: a read is a dictionary lookup, nothing to skip

    def __init__(self, max_entries: int = MEMORY_MAX_ENTRIES) -> None:
        self._values: dict[tuple[str, str], tuple[Any, float]] = {}
        self._expiries: dict[str, list[tuple[float, str]]] = {}  # heaps per namespace; stale entries skipped
        self._keys: dict[str, set[str]] = {}  # per namespace: its keys, expired ones not yet purged included
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def __len__(self) -> int:
        """How many values are held, expired ones not yet purged included."""
        return len(self._values)

    def _store(self, namespace: str, key: str, value: Any, expires: float) -> None:
        """Keep a value (the lock is held), remember when it expires, and keep its namespace within the cap."""
        current = self._values.get((namespace, key))
        self._values[(namespace, key)] = (value, expires)
        keys = self._keys.setdefault(namespace, set())
        keys.add(key)
        if current is None or current[1] != expires:
            heap = self._expiries.setdefault(namespace, [])
            heapq.heappush(heap, (expires, key))
            if len(heap) > 2 * len(keys) + 1024:  # mostly stale entries: rebuild
                heap[:] = [(self._values[(namespace, k)][1], k) for k in keys]
                heapq.heapify(heap)
        while len(keys) > self._max_entries and self._drop_soonest(namespace, None):
            pass

    def _drop(self, namespace: str, key: str) -> None:
        if self._values.pop((namespace, key), None) is not None:
            self._keys[namespace].discard(key)

    def _drop_soonest(self, namespace: str, now: float | None) -> bool:
        """Drop the namespace's value closest to expiring (only if expired by ``now``, unless ``now`` is None)."""
        heap = self._expiries.get(namespace) or []
        while heap and (now is None or heap[0][0] <= now):
            expires, key = heapq.heappop(heap)
            current = self._values.get((namespace, key))
            if current is not None and current[1] == expires:
                self._drop(namespace, key)
                return True
        return False

    def _purge_namespace(self, namespace: str, now: float) -> None:
        """Drop the expired values of one namespace (the lock is held): each namespace keeps its own time."""
        while self._drop_soonest(namespace, now):
            pass

    def _purge(self, now: float) -> None:
        """Drop every expired value (the lock is held)."""
        for namespace in self._expiries:
            while self._drop_soonest(namespace, now):
                pass

    def claim(self, namespace: str, key: str, value: Any, expires: float, now: float) -> Any | None:
        """Store a value unless a live one exists; return the live value when there is one."""
        with self._lock:
            current = self._values.get((namespace, key))
            if current is not None and current[1] > now:
                return current[0]
            self._purge_namespace(namespace, now)
            self._store(namespace, key, value, expires)
        return None

    def get(self, namespace: str, key: str, now: float) -> Any | None:
        """The live value under a key."""
        current = self._values.get((namespace, key))
        return current[0] if current is not None and current[1] > now else None

    def set(self, namespace: str, key: str, value: Any, expires: float) -> None:
        """Store or replace a value."""
        with self._lock:
            self._store(namespace, key, value, expires)

    def set_many(self, namespace: str, items: Sequence[tuple[str, Any]], expires: float) -> None:
        """Store or replace several values."""
        with self._lock:
            for key, value in items:
                self._store(namespace, key, value, expires)

    def discard(self, namespace: str, key: str) -> None:
        """Forget a key."""
        with self._lock:
            self._drop(namespace, key)

    def increment(self, namespace: str, key: str, expires: float, now: float, by: int = 1) -> int:
        """Add ``by`` to a counter that restarts from 0 once expired."""
        with self._lock:
            current = self._values.get((namespace, key))
            if current is None or current[1] <= now:
                current = (0, expires)
            count = int(current[0]) + by
            self._purge_namespace(namespace, now)
            self._store(namespace, key, count, current[1])
        return count

    def items(self, namespace: str, now: float) -> list[tuple[str, Any]]:
        """Every live (key, value) of a namespace, by key ascending."""
        with self._lock:
            found = [(key, self._values[(namespace, key)]) for key in self._keys.get(namespace, ())]
        return sorted(((key, value) for key, (value, expires) in found if expires > now), key=itemgetter(0))

    def trim(self, namespace: str, keep: int) -> int:
        """Keep the ``keep`` greatest keys of a namespace; return how many went."""
        with self._lock:
            keys = sorted(self._keys.get(namespace, ()))
            doomed = keys[: max(0, len(keys) - max(keep, 0))]
            for key in doomed:
                self._drop(namespace, key)
        return len(doomed)

    def purge(self, now: float) -> int:
        """Drop expired values."""
        with self._lock:
            before = len(self._values)
            self._purge(now)
            return before - len(self._values)

    def clear(self, namespace: str | None = None) -> None:
        """Forget every value, or every value of one namespace."""
        with self._lock:
            for name in [namespace] if namespace is not None else [*self._expiries, *self._keys]:
                self._expiries.pop(name, None)
                self._keys.pop(name, None)
            self._values = {k: v for k, v in self._values.items() if namespace is not None and k[0] != namespace}
