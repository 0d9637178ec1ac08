"""The sandbox's clock: real time, shifted by an offset or frozen at an instant, so dates can be tested.

``--today`` shifts the clock by whole days (today is that date, the time of day runs on); the
control surface can freeze it at an instant, move it forward, and release it back to the start.
Everything that reads the time (records, OVERDUE and EXPIRED, rate-limit windows, idempotency
expiry, webhook retries, the journal) asks this object, so one move is seen everywhere at once.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def _real() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(instant: dt.datetime) -> str:
    """An aware datetime as an RFC 3339 UTC string (``2026-02-07T10:30:00Z``)."""
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def rfc3339_ms(instant: dt.datetime) -> str:
    """An aware datetime as RFC 3339 UTC to the millisecond (``2026-02-07T10:30:00.250Z``): sortable as text."""
    return instant.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ClockSetting:
    """How the clock relates to real time: frozen at an instant, or real time plus an offset."""

    frozen: dt.datetime | None = None
    offset: dt.timedelta = dt.timedelta(0)

    def to_json(self) -> dict[str, object]:
        """The setting as JSON-ready data (kept in the shared control state)."""
        return {
            "frozen": rfc3339(self.frozen) if self.frozen else None,
            "offset_seconds": self.offset.total_seconds(),
        }

    @classmethod
    def shifted_to(cls, day: dt.date) -> ClockSetting:
        """A running clock shifted by whole days so today is ``day`` (the time of day runs on)."""
        return cls(offset=dt.timedelta(days=day.toordinal() - _real().date().toordinal()))

    @classmethod
    def frozen_at(cls, at: dt.datetime) -> ClockSetting:
        """A clock stopped at an instant (a naive time is read as UTC)."""
        return cls(frozen=at if at.tzinfo else at.replace(tzinfo=dt.UTC))

    def advanced(self, by: dt.timedelta) -> ClockSetting:
        """The setting moved forward by ``by`` (a frozen clock stays frozen at the later instant)."""
        if self.frozen is not None:
            return ClockSetting(frozen=self.frozen + by)
        return ClockSetting(offset=self.offset + by)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ClockSetting:
        """Read back ``to_json``."""
        frozen = data.get("frozen")
        offset = data.get("offset_seconds")
        return cls(
            dt.datetime.fromisoformat(str(frozen)) if frozen else None,
            dt.timedelta(seconds=float(offset)) if isinstance(offset, int | float) else dt.timedelta(0),
        )


class Clock:
    """Tells the sandbox's today and now, as its ``setting`` says (``start``: real time, or ``--today``'s shift)."""

    def __init__(self, today: dt.date | None = None) -> None:
        self.start = ClockSetting.shifted_to(today) if today is not None else ClockSetting()
        self.setting = self.start
        self._frozen: dt.datetime | None = None
        self._frozen_stamp: str | None = None  # timestamp() of the frozen instant, asked for once per seeded record
        self._last_stamp: tuple[int, str] = (-1, "")  # the last second timestamp() wrote out, and its text

    @contextmanager
    def frozen_at_start_of_day(self) -> Iterator[None]:
        """Stop time at 00:00 UTC of the sandbox's today (seeding stamps the same instant every run)."""
        self._frozen = dt.datetime.combine(self.today(), dt.time(tzinfo=dt.UTC))
        self._frozen_stamp = rfc3339(self._frozen)
        try:
            yield
        finally:
            self._frozen = self._frozen_stamp = None

    def instant(self) -> dt.datetime:
        """The current UTC instant to the microsecond: for schedules finer than a second (webhook retries)."""
        if self._frozen is not None:
            return self._frozen
        setting = self.setting
        if setting.frozen is not None:
            return setting.frozen
        return _real() + setting.offset

    def now(self) -> dt.datetime:
        """The current UTC instant to the second (what records are stamped with)."""
        return self.instant().replace(microsecond=0)

    def epoch(self) -> float:
        """The current instant as POSIX seconds: rate-limit windows and idempotency expiry follow the clock."""
        if self._frozen is not None or self.setting.frozen is not None:
            return self.instant().timestamp()
        return time.time() + self.setting.offset.total_seconds()  # (no datetime made: asked several times a request)

    def today(self) -> dt.date:
        """The sandbox's current date."""
        return self.instant().date()

    def timestamp(self) -> str:
        """Now as an RFC 3339 UTC string (``2026-02-07T10:30:00Z``)."""
        if self._frozen_stamp is not None:
            return self._frozen_stamp
        second = math.floor(self.epoch())
        last = self._last_stamp  # (one tuple: threads may race to replace it, never see half of it)
        if last[0] != second:
            last = self._last_stamp = (second, rfc3339(dt.datetime.fromtimestamp(second, dt.UTC)))
        return last[1]

    def precise_timestamp(self) -> str:
        """Now as RFC 3339 UTC to the millisecond (``2026-02-07T10:30:00.250Z``): schedules sort by it as text."""
        return rfc3339_ms(self.instant())

    def set_today(self, day: dt.date) -> None:
        """Shift a running clock by whole days so today is ``day`` (the time of day runs on)."""
        self.setting = ClockSetting.shifted_to(day)
