"""What an admin set through /__sandbox (clock, keys, faults, journal), shared by every worker process.

The settings are one JSON document in the store's ephemera with a generation counter beside it.
Each process reads the counter once per request and, when it moved, reads the document again and
tells its listeners (the clock, the key ring, the engine's caches), so a change made on one worker
is in force on every worker from the next request on. A reset or an import moves the counter too.
Where the store has change signals (a file shared by workers), the counter is read only when the
signal moved: a request that finds nothing changed costs a memory read, not a query.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mockserver.store import Ephemera

NAMESPACE = "control"
NEVER = 4_102_444_800.0  # 2100-01-01: control values do not expire
_LOCK_SECONDS = 10.0
T = TypeVar("T")
Listener = Callable[[dict[str, Any]], None]


class ControlState:
    """The shared control document, cached per process and refreshed when its generation moves."""

    def __init__(self, shared: Ephemera) -> None:
        self._shared = shared
        self._generation: object = None
        self._token: int | None = None  # the change signal's token when the generation was last read
        self.document: dict[str, Any] = {}
        self._listeners: list[Listener] = []
        self._local = threading.Lock()

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` with the document now and whenever it changes."""
        self._listeners.append(listener)
        listener(self.document)

    def refresh(self) -> None:
        """Catch up with changes another worker (or this one) made: one read (or none) when nothing changed."""
        signals = self._shared.signals
        token = signals.token(NAMESPACE) if signals is not None else None  # read before what it vouches for
        if token is not None and token == self._token:
            return
        generation = self._shared.get(NAMESPACE, "generation", 0.0)
        if generation != self._generation:
            with self._local:
                if generation != self._generation:
                    stored = self._shared.get(NAMESPACE, "document", 0.0)
                    self.document = stored if isinstance(stored, dict) else {}
                    for listener in self._listeners:
                        listener(self.document)
                    self._generation = generation
        self._token = token

    def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``change`` to a copy of the document under a cross-process lock, publish it, and return its result."""
        holder = f"{id(self)}:{threading.get_ident()}"
        deadline = time.monotonic() + _LOCK_SECONDS
        while self._shared.claim(NAMESPACE, "lock", holder, time.time() + _LOCK_SECONDS, time.time()) is not None:
            if time.monotonic() > deadline:
                raise TimeoutError("another admin request holds the control state; retry")
            time.sleep(0.005)
        try:
            stored = self._shared.get(NAMESPACE, "document", 0.0)
            document = copy.deepcopy(stored) if isinstance(stored, dict) else {}
            result = change(document)
            self._shared.set(NAMESPACE, "document", document, NEVER)
            self.bump()
        finally:
            self._shared.discard(NAMESPACE, "lock")
        return result

    def bump(self) -> None:
        """Tell every worker that something shared changed (after a reset or an import too)."""
        self._shared.increment(NAMESPACE, "generation", NEVER, 0.0)
        if self._shared.signals is not None:
            self._shared.signals.bump(NAMESPACE)
        self.refresh()
