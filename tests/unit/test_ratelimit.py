"""Unit tests for mockserver.platform.ratelimit: fixed windows, 429 with Retry-After, clear()."""

from __future__ import annotations

import pytest

from mockserver.errors import RateLimited
from mockserver.platform.ratelimit import RateLimiter


class FakeTime:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime(36_000.0)  # exactly the start of a 60 s window


def test_each_request_spends_one_from_the_window(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=3, window_seconds=60, now=clock.time)
    remaining = [limiter.spend("key:1").remaining for _ in range(3)]
    assert remaining == [2, 1, 0]


def test_the_budget_describes_itself_in_headers(clock: FakeTime) -> None:
    clock.now += 15
    budget = RateLimiter(limit=5, window_seconds=60, now=clock.time).spend("key:1")
    assert budget.headers() == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": "45",
    }


def test_past_the_limit_is_429_with_retry_after(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=2, window_seconds=60, now=clock.time)
    limiter.spend("key:1")
    limiter.spend("key:1")
    clock.now += 20
    with pytest.raises(RateLimited, match="2 requests per 60 s") as caught:
        limiter.spend("key:1")
    error = caught.value
    assert error.status == 429
    assert error.headers["Retry-After"] == "40"
    assert error.headers["X-RateLimit-Remaining"] == "0"
    assert error.headers["X-RateLimit-Limit"] == "2"


def test_a_refused_request_does_not_spend_more(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1, window_seconds=60, now=clock.time)
    limiter.spend("key:1")
    for _ in range(3):
        with pytest.raises(RateLimited):
            limiter.spend("key:1")
    assert limiter.peek("key:1").remaining == 0


def test_callers_have_separate_budgets(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1, window_seconds=60, now=clock.time)
    limiter.spend("key:1:Acme full access")
    assert limiter.spend("key:2:Globex full access").remaining == 0
    assert limiter.spend("ip:127.0.0.1").remaining == 0


def test_a_new_window_starts_a_fresh_budget(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1, window_seconds=60, now=clock.time)
    limiter.spend("key:1")
    clock.now += 60
    assert limiter.spend("key:1").remaining == 0


def test_retry_after_is_never_zero(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1, window_seconds=60, now=clock.time)
    clock.now += 59.9
    limiter.spend("key:1")
    with pytest.raises(RateLimited) as caught:
        limiter.spend("key:1")
    assert caught.value.headers["Retry-After"] == "1"


def test_clear_forgets_every_callers_usage(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1, window_seconds=60, now=clock.time)
    limiter.spend("key:1")
    limiter.spend("key:2")
    limiter.clear()
    assert limiter.spend("key:1").remaining == 0
    assert limiter.spend("key:2").remaining == 0


def test_peek_does_not_spend(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=3, window_seconds=60, now=clock.time)
    assert limiter.peek("key:1").remaining == 3
    limiter.spend("key:1")
    assert limiter.peek("key:1").remaining == 2
    assert limiter.peek("key:1").remaining == 2
    clock.now += 60
    assert limiter.peek("key:1").remaining == 3
