"""Hypothesis draws that follow the seed and the spec alone, whatever modules the run's process has loaded.

Hypothesis draws some strings and numbers from the constants in the source of every *local* module loaded
(not in site-packages nor the standard library): a heuristic for testing one's own code. For a harness
testing someone else's API it only makes a seed send other requests depending on whether the harness is
installed editable, which script runs it and what else the process imported. ``seed_only`` leaves those
constants out while a run draws (its own global pool, the same for everyone, stays).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants


class _LocalConstantsOff:
    """Switches Hypothesis's local-constants pool off while anyone (a nested run, another thread) needs it off."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._original: Callable[[], Any] | None = None

    def enter(self) -> None:
        with self._lock:
            if self._users == 0:
                empty = Constants()
                self._original = providers._get_local_constants
                providers._get_local_constants = lambda: empty
                providers.CONSTANTS_CACHE.cache.clear()  # it holds the local pool, filtered per kind of draw
            self._users += 1

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._original is not None:
                providers._get_local_constants = self._original
                providers.CONSTANTS_CACHE.cache.clear()
                self._original = None


# Hypothesis's pool is one per process, so the switch over it is too.
_SWITCH = _LocalConstantsOff()


@contextmanager
def seed_only() -> Iterator[None]:
    """While inside, Hypothesis draws no constants from local modules' source."""
    if not hasattr(providers, "_get_local_constants"):  # a Hypothesis without local constants: nothing to do
        yield
        return
    _SWITCH.enter()
    try:
        yield
    finally:
        _SWITCH.leave()
