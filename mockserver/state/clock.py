"""The sandbox's clock: real time, or a fixed "today" so OVERDUE and expiry can be tested."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager


class Clock:
    """Tells the sandbox's today and now; ``today`` may be pinned while the time of day runs on."""

    def __init__(self, today: dt.date | None = None) -> None:
        self.pinned: dt.date | None = today
        self._frozen: dt.datetime | None = None
        self._frozen_stamp: str | None = None  # timestamp() of the frozen instant, asked for once per seeded record

    @contextmanager
    def frozen_at_start_of_day(self) -> Iterator[None]:
        """Stop time at 00:00 UTC of the sandbox's today (seeding stamps the same instant every run)."""
        self._frozen = dt.datetime.combine(self.today(), dt.time(tzinfo=dt.UTC))
        self._frozen_stamp = self._frozen.isoformat().replace("+00:00", "Z")
        try:
            yield
        finally:
            self._frozen = self._frozen_stamp = None

    def now(self) -> dt.datetime:
        """The current UTC instant, moved onto the pinned day if there is one."""
        if self._frozen is not None:
            return self._frozen
        real = dt.datetime.now(dt.UTC).replace(microsecond=0)
        if self.pinned is None:
            return real
        return dt.datetime.combine(self.pinned, real.timetz())

    def instant(self) -> dt.datetime:
        """Like ``now`` but to the microsecond: for schedules finer than a second (webhook retries in tests)."""
        real = dt.datetime.now(dt.UTC)
        return real if self.pinned is None else dt.datetime.combine(self.pinned, real.timetz())

    def today(self) -> dt.date:
        """The sandbox's current date."""
        return self.pinned or self.now().date()

    def timestamp(self) -> str:
        """Now as an RFC 3339 UTC string (``2026-02-07T10:30:00Z``)."""
        if self._frozen_stamp is not None:
            return self._frozen_stamp
        return self.now().isoformat().replace("+00:00", "Z")
