"""Hand calls from an event loop to threads and their results back, for half the CPU of ``run_in_executor``.

``loop.run_in_executor`` wraps each call in a ``concurrent.futures.Future`` (with its condition variable, a
work item and callbacks) and chains that to an asyncio future: a request handed to a thread and back cost
about 62 us of CPU on a 2-core machine, against 23-31 us for a queue of (asyncio future, call) pairs whose
threads set each result on the loop themselves. A create with two workers on a file runs in a thread: it
took 6.5% less server CPU this way (bench/README.md, session 29).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Call = tuple["asyncio.Future[Any]", Callable[[], Any]]


class LoopThreads:
    """A fixed set of threads running calls for one event loop; each call's result comes back as an asyncio future."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threads: int, name: str) -> None:
        self._loop = loop
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}_{number}", daemon=True) for number in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``call`` in a thread (on the loop's thread only); its result or exception, as a future of the loop."""
        if self._stopped:
            raise RuntimeError("the loop's threads are stopped")
        future: asyncio.Future[T] = self._loop.create_future()
        self._calls.put((future, call))
        return future

    def stop(self) -> None:
        """Drop the calls not yet started (their futures are cancelled); each thread ends after the call in hand."""
        self._stopped = True
        while True:
            try:
                waiting = self._calls.get_nowait()
            except queue.Empty:
                break
            if waiting is not None:
                self._hand_back(_cancel, waiting[0], None)
        for _ in self._threads:
            self._calls.put(None)

    def _serve(self) -> None:
        while (taken := self._calls.get()) is not None:
            future, call = taken
            if future.cancelled():  # its request went away while it waited
                continue
            try:
                result = call()
            except BaseException as exc:  # handed to the awaiting coroutine, as an executor does
                self._hand_back(_fail, future, exc)
            else:
                self._hand_back(_succeed, future, result)

    def _hand_back(
        self, settle: Callable[[asyncio.Future[Any], Any], None], future: asyncio.Future[Any], value: Any
    ) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing awaits the future any more
            self._loop.call_soon_threadsafe(settle, future, value)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _cancel(future: asyncio.Future[Any], _: None) -> None:
    future.cancel()
