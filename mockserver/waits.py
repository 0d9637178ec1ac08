"""Time a thread spent waiting for reasons not its own: queued behind another writer, or not scheduled.

The event loop runs a kind of request itself while its runs stay quick in wall time, so that a
request that blocks goes to a thread instead. Two waits in that wall time say nothing about the
kind: a write queued for the write lock behind another worker's transaction (in a thread it
would wait just as long, and pay the hand-over besides), and time the thread was ready to run
but the machine ran something else (on a busy two-core machine, most runs over the budget were
that). ``rsgi.timed_call_wsgi`` leaves both out.

A third wait is the request's own cost though not its CPU: work handed to a helper process (a PDF,
``behaviours.offload``) or to a database server (a PostgreSQL statement). A thread's runs are measured
in CPU time, so without it a kind that waits 100 ms for its PDF, or a search PostgreSQL spends 100 ms
on, would look quick and be run on the loop, holding up every other request.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

_THREAD = threading.local()
_SCHEDSTAT = "/proc/thread-self/schedstat"  # Linux: "<ns on a CPU> <ns waiting for one> <timeslices>"


def queued_seconds() -> float:
    """This thread's total time spent queued for a lock so far (compare two readings)."""
    return _total("queued")


def queueing() -> AbstractContextManager[None]:
    """Around a wait for a lock someone else holds: its duration is added to this thread's queued time."""
    return _adding_to("queued")


def elsewhere_seconds() -> float:
    """This thread's total time spent waiting for work it handed to another process so far."""
    return _total("elsewhere")


def working_elsewhere() -> AbstractContextManager[None]:
    """Around a wait for work done by another process on this thread's behalf: it counts as this thread's cost."""
    return _adding_to("elsewhere")


def waiting_on_server() -> AbstractContextManager[None]:
    """Around a statement a database server runs for this thread: the time it waited for the answer is elsewhere.

    Unlike ``working_elsewhere``, the thread's own CPU inside (sending the statement, reading the
    answer, counted as CPU already) and its time waiting for a CPU (the machine's load, not the
    statement's cost) are left out.
    """
    return _ServerWait()


class _ServerWait:
    """``waiting_on_server``'s block (a class: every PostgreSQL statement passes through one)."""

    __slots__ = ("_began", "_cpu", "_descheduled")

    def __enter__(self) -> None:
        self._began, self._cpu, self._descheduled = time.perf_counter(), time.thread_time(), descheduled_seconds()

    def __exit__(self, *exc: object) -> None:
        waited = time.perf_counter() - self._began - (time.thread_time() - self._cpu)
        waited -= descheduled_seconds() - self._descheduled
        if waited > 0:
            _THREAD.elsewhere = _total("elsewhere") + waited


def _total(kind: str) -> float:
    """This thread's running total of one kind of wait."""
    return float(getattr(_THREAD, kind, 0.0))


@contextmanager
def _adding_to(kind: str) -> Iterator[None]:
    """Add the wall time of the block to this thread's running total of ``kind``."""
    began = time.perf_counter()
    try:
        yield
    finally:
        setattr(_THREAD, kind, _total(kind) + time.perf_counter() - began)


def descheduled_seconds() -> float:
    """This thread's total time ready to run but waiting for a CPU (0.0 where the system does not say)."""
    opened: _Schedstat | None = getattr(_THREAD, "schedstat", None)
    if opened is None or opened.pid != os.getpid():  # a forked child's thread is not its parent's
        opened = _THREAD.schedstat = _Schedstat()
    return opened.run_delay()


class _Schedstat:
    """This thread's schedstat file, open while the thread lives (closed with its thread-local data)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        try:
            self._descriptor = os.open(_SCHEDSTAT, os.O_RDONLY)
        except OSError:
            self._descriptor = -1

    def run_delay(self) -> float:
        if self._descriptor < 0:
            return 0.0
        try:
            return int(os.pread(self._descriptor, 64, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def __del__(self) -> None:
        if self._descriptor >= 0 and self.pid == os.getpid():
            os.close(self._descriptor)
