"""Upkeep of a SQLite database after writes, in a thread of its own, never in a request.

Jobs a commit or a start-up used to do itself. FTS5 writes a segment of its text index for every
transaction that adds a row (about 0.1 ms of a create's 0.5): writers now only note the row
(``text_pending``), and this thread indexes the noted rows a moment later; a big bulk load leaves its
tables' indexes and text index to it too (see ``backlog``), a bounded step at a time. SQLite's automatic
checkpoint runs inside the commit that pushes the log past 1,000 pages, so now and then one create
paid for copying every page written since (and, on a file, for an fsync): it held the event loop
past its budget and sent creates to the thread pool (server CPU per create on a file with one
worker: 1.35 -> 0.81 ms with it moved out). Connections keep an automatic checkpoint only as a
far-off safety net; this thread runs a PASSIVE checkpoint (it never waits for readers or writers).
The thread runs a tenth of a second after writes (while a backlog lasts, after resting about as long
as its last step took) and ends after a few idle seconds.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mockserver.store.base import StoreError
from mockserver.store.forking import inside_sqlite

INTERVAL_SECONDS = 0.1  # how soon after a write the text index catches up and the log is folded in
IDLE_ROUNDS = 30  # rounds with no write before the thread ends (a write starts a new one)
SAFETY_NET_PAGES = 16_384  # the automatic checkpoint's threshold: only if this thread falls far behind
# The rest between two steps of a backlog: as long as the step took, within these bounds. SQLite's busy
# handler polls a waiting writer's lock at intervals that grow to 100 ms, so one such rest lets it in.
BACKLOG_REST_SECONDS = (0.02, 0.1)
WAIT_MS = 50  # a round queues for the write turn with the writers; then this long for a writer outside the queue

# Held through each round of every upkeep thread of this process (``paused`` holds it to stop them).
_IN_ROUND = threading.Lock()


@contextmanager
def _round() -> Iterator[None]:
    """One round: no other upkeep round and no fork meanwhile (see ``forking``)."""
    with _IN_ROUND, inside_sqlite():
        yield


@contextmanager
def paused() -> Iterator[None]:
    """No upkeep thread of this process starts a round while this is held."""
    with _IN_ROUND:
        yield


class Upkeep:
    """One thread per process that runs ``chores`` and a checkpoint after writes; ``wake()`` is all a writer calls.

    ``chores`` does one bounded step and says whether more is left: the thread then goes on after
    resting about as long as the step took, outside SQLite (a fork waits for one step, not the backlog).
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], chores: Callable[[sqlite3.Connection], bool]) -> None:
        self._connect = connect
        self._chores = chores
        self._lock = threading.Lock()
        self._dirty = False
        self._running_in: int | None = None  # the pid whose thread runs (a forked child starts its own)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Note work to do (a commit, a backlog found at start-up); start the thread if this process runs none."""
        self._dirty = True
        if self._running_in == os.getpid() or self._stop.is_set():
            return
        with self._lock:
            if self._running_in != os.getpid() and not self._stop.is_set():
                self._running_in = os.getpid()
                self._thread = threading.Thread(target=self._run, name="sqlite-upkeep", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the thread (at close) and wait for it: its connection is closed when this returns."""
        self._stop.set()
        with self._lock:
            self._running_in = None
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        """Chores and a checkpoint each round after a write; end after ``IDLE_ROUNDS`` quiet rounds or at stop."""
        try:
            with _round():
                connection = self._connect()
                connection.execute(f"PRAGMA busy_timeout = {WAIT_MS}")
        except (sqlite3.Error, StoreError):  # the store is closing or gone: the safety net still holds
            with self._lock:
                self._running_in = None
            return
        try:
            idle, more, rest = 0, False, INTERVAL_SECONDS
            while not self._stop.wait(rest):
                rest = INTERVAL_SECONDS
                with self._lock:
                    dirty, self._dirty = self._dirty or more, False
                    if not dirty:
                        idle += 1
                        if idle >= IDLE_ROUNDS:
                            self._running_in = None
                            return
                        continue
                idle, began = 0, time.monotonic()
                try:
                    with _round():
                        more = self._chores(connection)
                        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except (sqlite3.Error, StoreError):  # the write lock stayed busy, a commit failed, the store closes
                    more = False
                    with self._lock:
                        self._dirty = True  # try again next round
                if more:  # a writer polling for the lock gets it in between
                    least, most = BACKLOG_REST_SECONDS
                    rest = min(max(time.monotonic() - began, least), most)
        finally:
            with _round():
                connection.close()
