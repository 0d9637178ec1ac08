"""A fork waits until no other thread of the process is using SQLite.

A forked child inherits SQLite's internal mutexes in whatever state the parent's threads left them:
one held by a thread that does not exist in the child is never released, and the child hangs at its
first ``sqlite3.connect`` (seen: seeding workers forked by a reset while the webhook dispatcher polled
the store). Threads hold the gate shared while they have a connection checked out; a fork (seeding
workers, server workers) holds it alone. The forking thread's own checkouts do not count: it is not
inside SQLite while it forks. Per process by nature, like the fork it guards.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


class _ForkGate:
    """A shared-exclusive gate: threads using SQLite share it, a fork takes it alone."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """A fresh gate (the child of a fork starts with one: its parent's other threads are not in it)."""
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._inside = 0
        self._forking = False
        self._mine = threading.local()

    def enter(self, *, turn_holder: bool = False) -> None:
        """From now this thread uses SQLite; waits while a fork is under way, unless this thread is inside already.

        The fork waits for a thread inside to leave, so that thread must be able to go on (a nested use).
        So must the holder of the process's write turn (``turn_holder``): a thread inside (an upkeep
        round) may be queued behind it for that turn.
        """
        mine = getattr(self._mine, "count", 0)
        with self._lock:
            while self._forking and mine == 0 and not turn_holder:
                self._condition.wait()
            self._inside += 1
        self._mine.count = mine + 1

    def leave(self) -> None:
        """This thread's use (one ``enter``) is over; a fork waiting for it is told."""
        self._mine.count -= 1
        with self._lock:
            self._inside -= 1
            if self._forking:  # only a fork waits for users to leave (it set this under the lock first)
                self._condition.notify_all()

    @contextmanager
    def inside(self, *, turn_holder: bool = False) -> Iterator[None]:
        """Held while this thread uses SQLite (``enter`` and ``leave`` around the block)."""
        self.enter(turn_holder=turn_holder)
        try:
            yield
        finally:
            self.leave()

    def before_fork(self) -> None:
        """Bar new users, then wait until only this thread's own are left; the gate stays shut until the fork is done.

        The lock is kept from the end of the wait to ``after_fork_in_parent``, so no thread (not even the
        turn's holder, let in during the wait) starts using SQLite in between.
        """
        self._lock.acquire()
        self._forking = True
        while self._inside > getattr(self._mine, "count", 0):
            self._condition.wait()

    def after_fork_in_parent(self) -> None:
        """Let the waiting users in again."""
        self._forking = False
        self._condition.notify_all()
        self._lock.release()


_GATE = _ForkGate()
os.register_at_fork(before=_GATE.before_fork, after_in_parent=_GATE.after_fork_in_parent, after_in_child=_GATE._reset)


def inside_sqlite(*, turn_holder: bool = False) -> AbstractContextManager[None]:
    """Hold while using SQLite (a checked-out connection, an upkeep round): a fork waits for it.

    ``turn_holder``: the caller holds the process's write turn, and enters even while a fork waits.
    """
    return _GATE.inside(turn_holder=turn_holder)


def enter_sqlite() -> None:
    """``inside_sqlite`` begun, for a caller that cannot use a ``with`` block: ``leave_sqlite`` must follow."""
    _GATE.enter()


def leave_sqlite() -> None:
    """End what ``enter_sqlite`` began."""
    _GATE.leave()


def usable_cpus() -> int:
    """The CPUs this process may run on (where the system says; else the machine's): how many forks pay off."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
