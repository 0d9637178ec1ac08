"""Where CPU-heavy pure work (a PDF) runs: in the request's thread, or in a helper process beside the worker.

A PDF takes fpdf2 about 100 ms of pure Python, holding the worker's interpreter lock all along:
two clients rendering PDFs made every other request of the worker wait its turn for the lock
(``/health`` p99 38-40 ms beside two PDF and two search clients, 10.5-16 ms with the PDFs in a
helper; bench/README.md). The served sandbox hands such work to one helper process per worker,
started at the first use (a second or two) and kept; the request's thread waits for it without
the lock. An app built in process (tests, embedding) runs the work inline unless asked otherwise.
A helper yields the CPU to requests: it runs a little nicer than its worker, in a session of its own.

The work must be a module-level function with picklable arguments and result. A helper that died
(killed, out of memory) is replaced, and the work tried once more in the new one. A helper ends
cleanly, running its process's exit handlers (they remove what the work set aside, such as a PDF's
fonts), however it is stopped: by its worker, by SIGTERM, or by its worker's death. It ignores
Ctrl-C, which a terminal sends to every process of its group (a helper leaves it where it can): its worker stops it.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import select
import signal
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import TypeVar

from mockserver.waits import working_elsewhere

T = TypeVar("T")
_PARENT_CHECK_SECONDS = 1.0
HELPER_NICENESS = 5  # how much less CPU weight a helper has than its worker when the cores are full


class OffloadError(RuntimeError):
    """The helper process stopped twice in a row while doing one piece of work."""


class Offload:
    """Runs CPU-heavy work inline, or in a helper process of this app's own (``in_helper``)."""

    def __init__(self, *, in_helper: bool = False) -> None:
        self.in_helper = in_helper
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._finalizer: weakref.finalize[[ProcessPoolExecutor], Offload] | None = None

    def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)``: here, or in the helper (the calling thread waits without the interpreter lock)."""
        if not self.in_helper:
            return work(*args)
        with working_elsewhere():
            for _ in range(2):
                helper = self._helper()
                try:
                    return helper.submit(work, *args).result()
                except BrokenProcessPool as exc:
                    self._forget(helper)
                    failure = exc
        raise OffloadError(f"the helper process stopped twice while running {work.__name__}") from failure

    def close(self) -> None:
        """Stop the helper and wait until it ended (work queued is dropped); a later ``run`` starts a new one.

        Waiting matters to a stopping worker: its exit closes the queue that carries the helper's
        order to stop, so an order still on its way would never arrive.
        """
        if self._pool is not None:
            self._forget(self._pool, wait=True)

    def _helper(self) -> ProcessPoolExecutor:
        """The helper process, started at the first use.

        Spawned, never forked: a fork would copy the worker's threads' locks (SQLite's among them) in
        whatever state they were, and a helper should not inherit the worker's memory either.
        """
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_prepare_helper
                )
                self._finalizer = weakref.finalize(self, _stop, self._pool)
            return self._pool

    def _forget(self, helper: ProcessPoolExecutor, *, wait: bool = False) -> None:
        """Stop a helper unless it was already replaced (``wait``: until it ended); the next ``run`` starts another."""
        with self._lock:
            if self._pool is not helper:
                return
            self._pool = None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
        _stop(helper, wait=wait)


def _stop(helper: ProcessPoolExecutor, *, wait: bool = False) -> None:
    """Let a helper go: work queued for it is dropped, work under way finishes, then it exits."""
    helper.shutdown(wait=wait, cancel_futures=True)


def _prepare_helper() -> None:
    """In a new helper: yield the CPU to requests, leave Ctrl-C to its worker, end on SIGTERM and with its worker."""
    _yield_to_requests()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _end_on_signal)
    _watch_parent()


def _yield_to_requests() -> None:
    """Give the helper less CPU weight than its worker, whether or not Linux groups processes by session.

    A PDF is the one request that takes tens of milliseconds of CPU; quick requests should not wait
    behind it when the cores are full. Where Linux weighs each session as a group (autogroups, the
    default of desktop and many server kernels), a helper in its worker's session took that group's
    share and the worker's requests waited behind it whenever other sessions kept the cores busy (a
    local PostgreSQL's backends are each a session): /health p99 26-33 ms beside two PDF and two
    search clients. So the helper leads a session of its own with a nicer group, and is nicer itself
    for kernels without autogroups: 10-13 ms, with fewer PDFs and more searches served then
    (bench/README.md). A helper that cannot leave the session is only nicer itself: renicing the
    session's group would slow its worker too.
    """
    with contextlib.suppress(OSError):  # at the most nice already
        os.nice(HELPER_NICENESS)
    try:
        os.setsid()
    except (AttributeError, OSError):  # not POSIX; or already a group's leader (no spawned child is)
        return
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as autogroup:  # not Linux, no autogroups
        autogroup.write(str(HELPER_NICENESS))


def _end_on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM in a helper: end it at once, cleanly (raising SystemExit would only fail the work under way)."""
    _end_helper()


def _end_helper() -> None:
    """End a helper after its exit handlers ran (an ``os._exit`` alone would leave what they remove behind)."""
    atexit._run_exitfuncs()  # the interpreter's own exit handlers: there is no public way to run them early
    os._exit(0)


def _watch_parent() -> None:
    """In a helper: end it once the worker that started it is gone, even killed (it would wait for work forever).

    A parent-death signal would not do: Linux sends it when the *thread* that spawned the helper
    ends, and that is whichever thread first had work for it.
    """
    parent = os.getppid()

    def watch() -> None:
        exited = _exit_descriptor(parent)
        if exited is not None:  # Linux: sleep until the parent exits, with no wake-up meanwhile
            try:
                select.select([exited], [], [])
            finally:
                os.close(exited)
        while os.getppid() == parent:  # elsewhere, look once a second
            time.sleep(_PARENT_CHECK_SECONDS)
        _end_helper()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _exit_descriptor(pid: int) -> int | None:
    """A descriptor readable once process ``pid`` (this one's parent) has exited: a pidfd, where Linux has them."""
    try:
        descriptor = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux 5.3 or later, or the parent is already gone
        return None
    if os.getppid() != pid:  # the parent died before the pidfd was made: its number may name another process now
        os.close(descriptor)
        return None
    return descriptor
