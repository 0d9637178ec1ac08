"""Fixed-window request budgets per credential, reported in X-RateLimit-* headers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from mockserver.errors import RateLimited


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

    def __init__(self, limit: int, window_seconds: int) -> None:
        self.limit = limit
        self.window = window_seconds
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def spend(self, caller: str) -> Budget:
        """Count one request; raise 429 (with the budget's headers) once the window is used up."""
        now = time.time()
        window_index = int(now // self.window)
        reset = max(1, int((window_index + 1) * self.window - now))
        with self._lock:
            index, used = self._counts.get(caller, (window_index, 0))
            if index != window_index:
                used = 0
            if used >= self.limit:
                budget = Budget(self.limit, 0, reset)
                error = RateLimited(f"Rate limit of {self.limit} requests per {self.window} s exceeded.", reset)
                error.headers.update(budget.headers())
                raise error
            self._counts[caller] = (window_index, used + 1)
        return Budget(self.limit, self.limit - used - 1, reset)

    def clear(self) -> None:
        """Forget every caller's usage (a fresh window for all)."""
        with self._lock:
            self._counts.clear()

    def peek(self, caller: str) -> Budget:
        """The caller's budget without spending any of it."""
        now = time.time()
        window_index = int(now // self.window)
        with self._lock:
            index, used = self._counts.get(caller, (window_index, 0))
        used = used if index == window_index else 0
        return Budget(self.limit, max(0, self.limit - used), max(1, int((window_index + 1) * self.window - now)))
