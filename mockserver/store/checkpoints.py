"""Fold a SQLite database's write-ahead log into it from a thread of its own, never in a request.

SQLite's automatic checkpoint runs inside the commit that pushes the log past 1,000 pages, so now
and then one create pays for copying every page written since (and, on a file, for an fsync): it
held the event loop past its budget and sent creates to the thread pool (server CPU per create on
a file with one worker: 1.35 -> 0.81 ms with it moved out). Connections keep an automatic
checkpoint only as a far-off safety net; this thread runs a PASSIVE checkpoint (it never waits for
readers or writers) a moment after a write, and ends after a few idle seconds.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable

from mockserver.store.base import StoreError

INTERVAL_SECONDS = 0.1  # how soon after a write the log is folded in
IDLE_ROUNDS = 30  # rounds with no write before the thread ends (a write starts a new one)
SAFETY_NET_PAGES = 16_384  # the automatic checkpoint's threshold: only if this thread falls far behind

# Held while a checkpoint thread is inside SQLite. A fork (seeding workers, server workers) waits for it:
# a child that inherited SQLite's internal mutexes held by a thread that does not exist in it would hang
# at its first connect. Per process by nature, like the fork it guards.
_IN_SQLITE = threading.Lock()
os.register_at_fork(before=_IN_SQLITE.acquire, after_in_parent=_IN_SQLITE.release, after_in_child=_IN_SQLITE.release)


class Checkpoints:
    """One thread per process that checkpoints after writes; ``wrote()`` is all a writer calls."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._dirty = False
        self._running_in: int | None = None  # the pid whose thread runs (a forked child starts its own)
        self._stop = threading.Event()

    def wrote(self) -> None:
        """Note a commit; start the thread if this process has none running."""
        self._dirty = True
        if self._running_in == os.getpid() or self._stop.is_set():
            return
        with self._lock:
            if self._running_in != os.getpid() and not self._stop.is_set():
                self._running_in = os.getpid()
                threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True).start()

    def stop(self) -> None:
        """End the thread (at close): no checkpoint starts after this returns."""
        self._stop.set()
        with self._lock:
            self._running_in = None

    def _run(self) -> None:
        """Checkpoint each round that followed a write; end after ``IDLE_ROUNDS`` quiet rounds or at stop."""
        try:
            with _IN_SQLITE:
                connection = self._connect()
        except (sqlite3.Error, StoreError):  # the store is closing or gone: the safety net still holds
            with self._lock:
                self._running_in = None
            return
        try:
            idle = 0
            while not self._stop.wait(INTERVAL_SECONDS):
                with self._lock:
                    dirty, self._dirty = self._dirty, False
                    if not dirty:
                        idle += 1
                        if idle >= IDLE_ROUNDS:
                            self._running_in = None
                            return
                        continue
                idle = 0
                try:
                    with _IN_SQLITE:
                        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # another process is checkpointing, or the store is closing
                    continue
        finally:
            with _IN_SQLITE:
                connection.close()
