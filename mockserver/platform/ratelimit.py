"""Fixed-window request budgets per credential, reported in X-RateLimit-* headers.

Counts live in the store's ephemera when the store is shared by several processes, so a limit
holds across workers; a sandbox alone in its process counts in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mockserver.errors import RateLimited
from mockserver.store import Ephemera
from mockserver.store.ephemera import MemoryEphemera

NAMESPACE = "ratelimit"


@dataclass(frozen=True)
class Budget:
    """What is left of one caller's window."""

    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """The X-RateLimit-* headers that describe this budget."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }


class RateLimiter:
    """Counts requests per caller in fixed windows of ``window_seconds``."""

    def __init__(
        self,
        limit: int,
        window_seconds: int,
        shared: Ephemera | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._shared = shared or MemoryEphemera()
        self._now = now

    def _window(self) -> tuple[float, float, int]:
        now = self._now()
        end = (int(now // self.window) + 1) * self.window
        return now, end, max(1, int(end - now))

    def spend(self, caller: str) -> Budget:
        """Count one request; raise 429 (with the budget's headers) once the window is used up."""
        now, end, reset = self._window()
        used = self._shared.increment(NAMESPACE, caller, end, now)
        if used > self.limit:
            raise self._refusal(reset, f"Rate limit of {self.limit} requests per {self.window} s exceeded.")
        return Budget(self.limit, self.limit - used, reset)

    def check(self, caller: str, reason: str) -> None:
        """Raise 429 if ``caller`` already used up its window (spending nothing): a gate before costly work."""
        now, _end, reset = self._window()
        if int(self._shared.get(NAMESPACE, caller, now) or 0) >= self.limit:
            raise self._refusal(reset, reason)

    def _refusal(self, reset: int, message: str) -> RateLimited:
        error = RateLimited(message, reset)
        error.headers.update(Budget(self.limit, 0, reset).headers())
        return error

    def clear(self) -> None:
        """Forget every caller's usage (a fresh window for all)."""
        self._shared.clear(NAMESPACE)

    def peek(self, caller: str) -> Budget:
        """The caller's budget without spending any of it."""
        now, _end, reset = self._window()
        used = int(self._shared.get(NAMESPACE, caller, now) or 0)
        return Budget(self.limit, max(0, self.limit - used), reset)
