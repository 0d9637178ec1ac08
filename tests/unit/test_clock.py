"""The sandbox clock's readings agree with each other however it is set (running, shifted, frozen, moved)."""

from __future__ import annotations

import datetime as dt

import pytest

from mockserver.state.clock import Clock, ClockSetting, rfc3339


def _settings() -> list[ClockSetting]:
    frozen = dt.datetime(2026, 2, 7, 10, 30, 59, 999_000, tzinfo=dt.UTC)
    return [
        ClockSetting(),
        ClockSetting.shifted_to(dt.date(2030, 1, 1)),
        ClockSetting(offset=dt.timedelta(seconds=0.75)),
        ClockSetting.frozen_at(frozen),
        ClockSetting.frozen_at(frozen).advanced(dt.timedelta(milliseconds=1)),
    ]


@pytest.mark.parametrize("setting", _settings(), ids=["real", "shifted", "fractional-offset", "frozen", "advanced"])
def test_timestamp_and_epoch_tell_the_same_instant_as_now(setting: ClockSetting) -> None:
    """``timestamp()`` is ``now()`` written out; ``epoch()`` is ``instant()`` in POSIX seconds."""
    clock = Clock()
    clock.setting = setting
    for _ in range(3):  # a reading in the same second as the last comes from the remembered text
        before = clock.now()
        stamp = clock.timestamp()
        after = clock.now()
        assert stamp in {rfc3339(before), rfc3339(after)}
        assert abs(clock.epoch() - clock.instant().timestamp()) < 0.5


def test_a_moved_clock_is_read_at_once() -> None:
    """Freezing or moving the clock changes the next timestamp, even within the same real second."""
    clock = Clock()
    clock.timestamp()
    clock.setting = ClockSetting.frozen_at(dt.datetime(2026, 2, 7, 10, 30, tzinfo=dt.UTC))
    assert clock.timestamp() == "2026-02-07T10:30:00Z"
    clock.setting = clock.setting.advanced(dt.timedelta(seconds=1))
    assert clock.timestamp() == "2026-02-07T10:30:01Z"
    assert clock.epoch() == dt.datetime(2026, 2, 7, 10, 30, 1, tzinfo=dt.UTC).timestamp()
    with clock.frozen_at_start_of_day():
        assert clock.timestamp() == "2026-02-07T00:00:00Z"
    assert clock.timestamp() == "2026-02-07T10:30:01Z"
