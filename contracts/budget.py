"""A whole run's budget (``--budget 90s``, ``--budget 5000req``): what a CI job may spend, and when it is spent.

One ``Budget`` belongs to one run (the runner puts it on the target). It counts seconds from the moment the run
starts and every request the suites send (each suite's ``Meter`` reports here through ``watch``). Once either
limit is reached it is *spent*: the Schemathesis engine in flight is stopped at once (``on_spent`` callbacks),
the suite in flight hands over what it checked (a check cut short claims no pass, ``contracts.partial``), no
other suite starts, and the report names what was cut short and what never ran. A check already sending its
requests finishes them first, so a run may go a little over (about one check's worth).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from contracts.meter import Meter

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_SYNTAX = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|req|requests?)?\s*$", re.IGNORECASE)
SPENT = "the budget was spent"  # how a check cut short by the budget says why


@dataclass(frozen=True)
class Limit:
    """What ``--budget`` allows: seconds, requests, or both (None: no limit of that kind)."""

    seconds: float | None = None
    requests: int | None = None

    def text(self) -> str:
        """``90s``, ``5000req`` or ``90s,5000req``: the syntax it was given in."""
        seconds = f"{self.seconds:g}s" if self.seconds is not None else ""
        return ",".join(part for part in (seconds, f"{self.requests}req" if self.requests else "") if part)


def parse(text: str) -> Limit:
    """``90s``, ``2m``, ``1h``, ``5000req`` or both comma-separated (``2m,5000req``); a ValueError when not one."""
    seconds: float | None = None
    requests: int | None = None
    for part in text.split(","):
        found = _SYNTAX.match(part)
        if found is None or not part.strip():
            raise ValueError(
                f"--budget {text!r}: give seconds or requests, e.g. 90s, 2m, 1h, 5000req, or both: 2m,5000req"
            )
        number, unit = float(found.group(1)), (found.group(2) or "s").lower()
        if number <= 0:
            raise ValueError(f"--budget {text!r}: a budget must be above 0")
        if unit.startswith("req"):
            if not number.is_integer() or requests is not None:
                raise ValueError(f"--budget {text!r}: requests are one whole number")
            requests = int(number)
        else:
            if seconds is not None:
                raise ValueError(f"--budget {text!r}: give the seconds once")
            seconds = number * _UNITS[unit]
    return Limit(seconds, requests)


class Budget:
    """The run's spending against its ``Limit``: seconds since ``start``, requests counted by the suites' meters."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._started = clock()
        self._requests = 0
        self._lock = threading.Lock()
        self._seen: dict[int, int] = {}  # requests already counted, per meter
        self._stoppers: list[Callable[[], None]] = []
        self._spent = False
        self._timer: threading.Timer | None = None

    def start(self) -> None:
        """Start the clock (the run begins); a timer notices a time limit even while nothing is being sent."""
        self._started = self._clock()
        if self.limit.seconds is not None:
            self._timer = threading.Timer(self.limit.seconds, self.check)
            self._timer.daemon = True
            self._timer.start()

    def close(self) -> None:
        """Stop the timer (the run ended)."""
        if self._timer is not None:
            self._timer.cancel()

    @property
    def seconds(self) -> float:
        """Seconds spent so far."""
        return self._clock() - self._started

    @property
    def requests(self) -> int:
        """Requests counted so far, in every suite."""
        return self._requests

    def watch(self, meter: Meter) -> None:
        """Count ``meter``'s new requests (a Meter listener); once spent, call every ``on_spent`` callback once."""
        made = meter.made
        with self._lock:
            key = id(meter)
            self._requests += made - self._seen.get(key, 0)
            self._seen[key] = made
        self.check()

    def check(self) -> bool:
        """Whether the budget is spent (and, the first time it is, stop what registered to be stopped)."""
        if self._spent:
            return True
        over_time = self.limit.seconds is not None and self.seconds >= self.limit.seconds
        over_requests = self.limit.requests is not None and self._requests >= self.limit.requests
        if not (over_time or over_requests):
            return False
        with self._lock:
            if self._spent:
                return True
            self._spent = True
            stoppers = list(self._stoppers)
        for stop in stoppers:
            stop()
        return True

    @property
    def spent(self) -> bool:
        """Whether the budget is spent (checks the clock)."""
        return self.check()

    def on_spent(self, stop: Callable[[], None]) -> Callable[[], None]:
        """Call ``stop`` when the budget is spent (at once if it is); returns a function that unregisters it."""
        with self._lock:
            already = self._spent
            if not already:
                self._stoppers.append(stop)
        if already:
            stop()
        return lambda: self._forget(stop)

    def _forget(self, stop: Callable[[], None]) -> None:
        with self._lock:
            if stop in self._stoppers:
                self._stoppers.remove(stop)

    def summary(self) -> dict[str, object]:
        """The limit and what was spent, JSON-ready."""
        return {
            "limit": self.limit.text(),
            "seconds": round(self.seconds, 3),
            "requests": self._requests,
            "spent": self._spent,
        }
