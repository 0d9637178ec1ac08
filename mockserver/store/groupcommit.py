"""Group commit: the write transactions of one process's threads take turns inside one SQLite transaction.

SQLite has one write lock per database, and a commit costs more than a create's own statements (the
WAL takes every page the transaction touched: the table's, each index's, the tallies'). A thread
that wants to write takes the process's turn; the first opens the transaction (``BEGIN IMMEDIATE``),
and when it is done while other threads wait for the turn, it passes the still open transaction on
instead of committing: each next writer runs in a savepoint of it (its failure undoes its own writes
only), and the last one, or the one that finds the group big or old enough, commits for all. A
writer returns only once the commit holding its writes has succeeded, so nothing is answered before
it is durable, and a failed commit fails every writer of the group. Reads use their own connections
and see only what is committed.

Processes sharing a file queue for the write lock on a lock file beside it (``flock``): the kernel
wakes the next one the moment the lock is free, where SQLite's busy handler polls, sleeping 1 to
100 ms between tries (with two workers, most of a create's time was that sleep). A writer that finds
the lock held first tries again for a moment without sleeping, as adaptive mutexes do, when the
process may use more than one CPU: another process's transaction is usually over within it, and
going to sleep and being woken again cost the two workers more CPU than the tries (creates with two
workers on two cores: idle CPU 13-18% -> 6-9%, 2,160-2,390 -> 2,470-2,545 creates/s).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mockserver.store.base import StoreError
from mockserver.store.forking import inside_sqlite, usable_cpus
from mockserver.waits import queueing

GROUP_MOST = 32  # writers that may share one commit
GROUP_SECONDS = 0.005  # a group open this long commits rather than let another writer in
# How long a writer tries the file's write lock again before it sleeps on it (one CPU: it sleeps at once).
SPIN_SECONDS = 0.0003


@dataclass
class _Group:
    """One open write transaction and the writers that have run in it."""

    connection: sqlite3.Connection
    pooled: bool  # taken from the pool for the group (else the leader's own, which it gives back itself)
    began: float
    changes: int
    announce: bool  # tell the store a commit changed something (the upkeep thread's own writes do not)
    members: int = 0
    failure: str | None = None  # why the group could not commit (then every member fails)
    lost: bool = False  # members' work that had succeeded was rolled back with the rest (not just a leader's own)
    done: threading.Event | None = None  # made when a member waits for another's commit (most groups have one)


class GroupCommit:
    """The write transactions of one store in one process (see the module's docstring)."""

    def __init__(
        self,
        take: Callable[[], sqlite3.Connection],
        give_back: Callable[[sqlite3.Connection], None],
        committed: Callable[[], None],
        lock_path: Path | None,
        *,
        failed: Callable[[], None] | None = None,
    ) -> None:
        self._take = take  # a connection for a new group (from the store's pool)
        self._give_back = give_back
        self._committed = committed  # told after a commit that changed something
        self._failed = failed  # told when succeeded writes were rolled back after all, before the next process writes
        self._lock_path = lock_path  # None: one process only (a temporary database)
        self._lock_file: tuple[int, int] | None = None  # (pid, descriptor): a forked child opens its own
        self._spin_seconds = 0.0  # set with the lock file: SPIN_SECONDS where this process may use several CPUs
        self._turn = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0
        self._group: _Group | None = None

    @property
    def waiting(self) -> int:
        """Writers of this process queued for the turn now."""
        return self._waiting

    @contextmanager
    def transaction(self, own: sqlite3.Connection | None, *, announce: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction for this thread's work; ``own``: the connection it must use (one it holds).

        ``announce=False``: its commit does not count as a change for the store's ``committed`` callback
        (the upkeep thread's own steps, which would otherwise wake it again for nothing).
        """
        with self._count:
            self._waiting += 1
        with queueing():
            self._turn.acquire()  # outside the fork gate: a fork never waits for the writers queued here
        with self._count:
            self._waiting -= 1
        group: _Group | None = None
        try:
            with inside_sqlite(turn_holder=True):  # a fork waits for the turn's holder, never the reverse
                try:
                    group = self._group
                    if group is not None and own is not None and group.connection is not own:
                        self._commit(group)  # this writer needs its own connection: the open group ends here
                        group = None
                    if group is None:
                        group = self._group = self._lead(own, announce)
                    leading = group.members == 0
                    with self._member(group, leading=leading) as connection:
                        yield connection
                except BaseException:
                    if group is not None and self._group is group and not self._pass(group):
                        self._commit(group)
                    raise
                passed = self._pass(group)
                if passed:
                    done = group.done = group.done or threading.Event()
                else:
                    self._commit(group)
        finally:
            self._turn.release()
        if passed:
            done.wait()
        if group.failure is not None:
            raise StoreError(f"the write could not be committed: {group.failure}")

    def _lead(self, own: sqlite3.Connection | None, announce: bool) -> _Group:
        """Open a group: the process's turn is held; queue for the file's write lock, then begin."""
        connection = own if own is not None else self._take()
        self._lock_across_processes()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._unlock_across_processes()
            if own is None:
                self._give_back(connection)
            raise
        return _Group(connection, own is None, time.monotonic(), connection.total_changes, announce)

    @contextmanager
    def _member(self, group: _Group, *, leading: bool) -> Iterator[sqlite3.Connection]:
        """One writer's part: its failure undoes its own writes (the leader's: the whole group, only its own)."""
        connection = group.connection
        if not leading:
            connection.execute("SAVEPOINT member")
        try:
            yield connection
        except BaseException:
            try:
                if leading:
                    connection.execute("ROLLBACK")
                    group.failure = "rolled back"  # nothing else was in it; the group is over
                else:
                    connection.execute("ROLLBACK TO member")
                    connection.execute("RELEASE member")
            except sqlite3.Error as exc:  # SQLite already rolled the whole transaction back
                group.failure, group.lost = str(exc), True
            raise
        if not leading:
            connection.execute("RELEASE member")
        group.members += 1

    def _pass(self, group: _Group) -> bool:
        """Whether to leave the group open for the next writer (one waits, the group is neither full nor old)."""
        return (
            group.failure is None
            and group.pooled  # a connection its leader holds (attached databases, a bulk load's settings) stays its own
            and self._waiting > 0
            and group.members < GROUP_MOST
            and time.monotonic() - group.began < GROUP_SECONDS
        )

    def _commit(self, group: _Group) -> None:
        """End the group: commit (or roll back a failed one), let the next process in, wake its members."""
        connection = group.connection
        try:
            if group.failure is None:
                try:
                    connection.execute("COMMIT")
                except sqlite3.Error as exc:
                    group.failure, group.lost = str(exc), True
            if group.failure is not None and connection.in_transaction:
                connection.execute("ROLLBACK")
        finally:
            self._group = None
            if group.lost and self._failed is not None:
                self._failed()
            self._unlock_across_processes()
            changed = connection.total_changes != group.changes
            if group.pooled:
                self._give_back(connection)
            if group.done is not None:
                group.done.set()
        if changed and group.failure is None and group.announce:
            self._committed()

    def _lock_across_processes(self) -> None:
        if self._lock_path is None:
            return
        if self._lock_file is None or self._lock_file[0] != os.getpid():
            try:  # read access is enough for flock: another user sharing the file can queue too
                descriptor = os.open(self._lock_path, os.O_RDONLY | os.O_CREAT, 0o644)
            except OSError:  # no lock file here: SQLite's busy handler still orders the writers, only slower
                self._lock_path = None
                return
            self._lock_file = (os.getpid(), descriptor)
            self._spin_seconds = SPIN_SECONDS if usable_cpus() > 1 else 0.0
        descriptor = self._lock_file[1]
        with queueing():
            if not self._tried_for(descriptor, self._spin_seconds):
                fcntl.flock(descriptor, fcntl.LOCK_EX)

    @staticmethod
    def _tried_for(descriptor: int, seconds: float) -> bool:
        """Whether the lock was taken by trying it, without sleeping, for up to ``seconds`` (at least once)."""
        deadline = time.perf_counter() + seconds
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.perf_counter() >= deadline:
                    return False

    def _unlock_across_processes(self) -> None:
        if self._lock_file is not None and self._lock_file[0] == os.getpid():
            fcntl.flock(self._lock_file[1], fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (after the store's last write)."""
        if self._lock_file is not None and self._lock_file[0] == os.getpid():
            os.close(self._lock_file[1])
        self._lock_file = None
