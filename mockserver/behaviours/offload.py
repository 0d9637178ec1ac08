"""Where CPU-heavy pure work (a PDF) runs: in the request's thread, or in a helper process beside the worker.

A PDF takes fpdf2 about 100 ms of pure Python, holding the worker's interpreter lock all along:
two clients rendering PDFs made every other request of the worker wait its turn for the lock
(``/health`` p99 38-40 ms beside two PDF and two search clients, 10.5-16 ms with the PDFs in a
helper; bench/README.md). The served sandbox hands such work to one helper process per worker,
started at the first use (a second or two) and kept; the request's thread waits for it without
the lock. An app built in process (tests, embedding) runs the work inline unless asked otherwise.

The work must be a module-level function with picklable arguments and result. A helper that died
(killed, out of memory) is replaced, and the work tried once more in the new one.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from mockserver.waits import working_elsewhere

T = TypeVar("T")
_PARENT_CHECK_SECONDS = 1.0


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
        """Stop the helper (work queued for it is dropped); a later ``run`` starts a new one."""
        if self._pool is not None:
            self._forget(self._pool)

    def _helper(self) -> ProcessPoolExecutor:
        """The helper process, started at the first use.

        Spawned, never forked: a fork would copy the worker's threads' locks (SQLite's among them) in
        whatever state they were, and a helper should not inherit the worker's memory either.
        """
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_watch_parent
                )
                self._finalizer = weakref.finalize(self, _stop, self._pool)
            return self._pool

    def _forget(self, helper: ProcessPoolExecutor) -> None:
        """Stop a helper unless it was already replaced; the next ``run`` starts another."""
        with self._lock:
            if self._pool is not helper:
                return
            self._pool = None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
        _stop(helper)


def _stop(helper: ProcessPoolExecutor) -> None:
    """Let a helper go: work queued for it is dropped, work under way finishes, then it exits."""
    helper.shutdown(wait=False, cancel_futures=True)


def _watch_parent() -> None:
    """In a helper: end it once the worker that started it is gone, even killed (it would wait for work forever).

    A parent-death signal would not do: Linux sends it when the *thread* that spawned the helper
    ends, and that is whichever thread first had work for it.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
