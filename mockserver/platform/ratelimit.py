"""Fixed-window request budgets per credential, reported in X-RateLimit-* and IETF RateLimit headers.

Each call counts under the limiter's sandbox-wide policy (named ``"default"``) unless it passes a
``RatePolicy`` of its own (a key's, named ``"key"``). The counter of a caller is kept per policy
(``caller@limit/window``), so a key whose policy changes starts a fresh window.

Besides ``X-RateLimit-Limit/Remaining/Reset``, a budget is described with the structured fields of
draft-ietf-httpapi-ratelimit-headers-11 (sections 3 and 4)::

    RateLimit-Policy: "default";q=1000;w=3600
    RateLimit: "default";r=998;t=1800

``q`` is the quota and ``w`` the window in seconds; ``r`` is the quota left and ``t`` the seconds
until the window ends. Counts live in the store's ephemera when the store is shared by several
processes, so a limit holds across workers; a sandbox alone in its process counts in memory.

Shared counts are reserved in leases: far from a window's limit a process takes a block of request
numbers in one write (one more per ``LEASE_SPAN`` requests left, at most ``lease_max``) and hands
them out itself, so a read no longer costs a write transaction that every other worker's cache must
see (on a file with two workers, a get's server CPU 0.42 -> 0.30 ms). No window ever admits more than
its limit; the last ``LEASE_SPAN`` requests of a window, and every window of a limit of that size or
less (the default 1000), are counted one by one, exactly. Above that, a remaining count may run
ahead by a block per worker, and a caller may be refused while another worker holds unspent numbers
of its last block (at most one in ``LEASE_SPAN`` of what was left when it was taken).

A gate (``check``, before authenticating) reads a shared count only when the store's change signal
for it moved since the count was last found under the limit: counts only grow within a window, and
each shared increment bumps the signal.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mockserver.errors import RateLimited
from mockserver.state.ratepolicy import DEFAULT_POLICY, KEY_POLICY, RatePolicy
from mockserver.store import Ephemera
from mockserver.store.ephemera import MemoryEphemera

__all__ = ["DEFAULT_POLICY", "KEY_POLICY", "LEASE_MAX", "NAMESPACE", "Budget", "RateLimiter", "RatePolicy"]

NAMESPACE = "ratelimit"
LEASE_MAX = 64  # the most request numbers a process reserves at once from a shared store
LEASE_SPAN = 1000  # a lease holds one request number per this many left in the window
LEASES_KEPT = 10_000  # leases of past windows are dropped once a process holds this many
BELOW_KEPT = 4_096  # callers a process remembers as under their limit (then it forgets them all)


@dataclass
class _Lease:
    """Request numbers of one caller's window that this process reserved and has not handed out yet."""

    end: float
    next: int
    last: int


@dataclass(frozen=True)
class Budget:
    """What is left of one caller's window under one policy."""

    policy: RatePolicy
    remaining: int
    reset_seconds: int

    @property
    def limit(self) -> int:
        """Requests allowed per window."""
        return self.policy.limit

    def headers(self) -> dict[str, str]:
        """The X-RateLimit-* headers and the IETF RateLimit-Policy and RateLimit fields of this budget."""
        name = self.policy.name
        return {
            "X-RateLimit-Limit": str(self.policy.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f'"{name}";q={self.policy.limit};w={self.policy.window_seconds}',
            "RateLimit": f'"{name}";r={self.remaining};t={self.reset_seconds}',
        }


class RateLimiter:
    """Counts requests per caller in fixed windows: of the default policy, or of the one a call passes."""

    def __init__(
        self,
        limit: int,
        window_seconds: int,
        shared: Ephemera | None = None,
        now: Callable[[], float] = time.time,
        lease_max: int = 1,
    ) -> None:
        self.policy = RatePolicy(limit, window_seconds, DEFAULT_POLICY)
        self._shared = shared if shared is not None else MemoryEphemera()
        self._now = now
        self._lease_max = lease_max
        self._leases: dict[str, _Lease] = {}
        self._leasing = threading.Lock()
        self._below: dict[str, int] = {}  # counter key -> the signal's token when its count was under the limit

    @property
    def limit(self) -> int:
        """The default policy's requests per window."""
        return self.policy.limit

    @property
    def window(self) -> int:
        """The default policy's window in seconds."""
        return self.policy.window_seconds

    def _window(self, policy: RatePolicy) -> tuple[float, float, int]:
        """Now, the end of the policy's current window, and the whole seconds until then, rounded up.

        Rounded up, so a client that waits exactly ``Retry-After`` seconds is never refused again.
        """
        now = self._now()
        window = policy.window_seconds
        end = (int(now // window) + 1) * window
        return now, end, max(1, math.ceil(end - now))

    def _policy(self, policy: RatePolicy | None) -> tuple[RatePolicy, str]:
        """The policy that applies and the counter key suffix that keeps its windows apart."""
        chosen = policy or self.policy
        return chosen, f"@{chosen.limit}/{chosen.window_seconds}"

    def spend(self, caller: str, policy: RatePolicy | None = None) -> Budget:
        """Count one request; raise 429 (with the budget's headers) once the window is used up."""
        chosen, suffix = self._policy(policy)
        now, end, reset = self._window(chosen)
        used = self._number(caller + suffix, chosen.limit, end, now)
        if used > chosen.limit:
            raise self._refusal(
                chosen, reset, f"Rate limit of {chosen.limit} requests per {chosen.window_seconds} s exceeded."
            )
        return Budget(chosen, chosen.limit - used, reset)

    def _number(self, key: str, limit: int, end: float, now: float) -> int:
        """This request's number in its window: the next of this process's lease, or the first of a new one."""
        if self._lease_max <= 1 or limit < 2 * LEASE_SPAN:  # leases of one: count each request in the store
            return self._counted(key, end, now, 1)
        with self._leasing:  # one lease per caller and process: two threads never reserve a block each
            lease = self._leases.get(key)
            if lease is not None and lease.end == end and lease.next <= lease.last:
                lease.next += 1
                return lease.next - 1
            seen = int(self._shared.get(NAMESPACE, key, now) or 0)  # every worker's count: a read, no write lock
            size = max(1, min(self._lease_max, (limit - seen) // LEASE_SPAN))
            last = self._counted(key, end, now, size)
            if len(self._leases) >= LEASES_KEPT:
                self._leases = {k: kept for k, kept in self._leases.items() if kept.end > now}
            self._leases[key] = _Lease(end, last - size + 2, last)
            return last - size + 1

    def _counted(self, key: str, end: float, now: float, by: int) -> int:
        """Add ``by`` to a shared count and tell the other processes it grew; return the new count."""
        count = self._shared.increment(NAMESPACE, key, end, now, by=by)
        if self._shared.signals is not None:
            self._shared.signals.bump(key)
        return count

    def forget_leases(self) -> None:
        """Drop this process's reserved numbers and what it knew of counts (cleared, a new policy, a moved clock)."""
        with self._leasing:
            self._leases.clear()
            self._below = {}

    def check(self, caller: str, reason: str, policy: RatePolicy | None = None) -> None:
        """Raise 429 if ``caller`` already used up its window (spending nothing): a gate before costly work."""
        chosen, suffix = self._policy(policy)
        key = caller + suffix
        signals = self._shared.signals
        token = signals.token(key) if signals is not None else None  # read before the count it vouches for
        if token is not None and self._below.get(key) == token:
            return
        now, _end, reset = self._window(chosen)
        if int(self._shared.get(NAMESPACE, key, now) or 0) >= chosen.limit:
            raise self._refusal(chosen, reset, reason)
        if token is not None:
            if len(self._below) >= BELOW_KEPT:
                self._below = {}
            self._below[key] = token

    def peek(self, caller: str, policy: RatePolicy | None = None) -> Budget:
        """The caller's budget without spending any of it."""
        chosen, suffix = self._policy(policy)
        now, _end, reset = self._window(chosen)
        used = int(self._shared.get(NAMESPACE, caller + suffix, now) or 0)
        return Budget(chosen, max(0, chosen.limit - used), reset)

    def clear(self) -> None:
        """Forget every caller's usage (a fresh window for all)."""
        self._shared.clear(NAMESPACE)
        self.forget_leases()

    @staticmethod
    def _refusal(policy: RatePolicy, reset: int, message: str) -> RateLimited:
        """A 429 whose Retry-After is the end of the window, with the exhausted budget's headers."""
        return RateLimited(message, reset, Budget(policy, 0, reset).headers())
