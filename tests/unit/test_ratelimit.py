"""Unit tests for mockserver.platform.ratelimit: fixed windows, policies, headers, 429 with Retry-After, clear()."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockserver.errors import RateLimited
from mockserver.platform.ratelimit import LEASE_MAX, LEASE_SPAN, RateLimiter, RatePolicy
from mockserver.state.fixtures import FixturesError, load_fixtures
from mockserver.store.ephemera import MemoryEphemera


class FakeTime:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


class CountedStore(MemoryEphemera):
    """A shared store that counts the writes the limiters of several workers make to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def increment(self, namespace: str, key: str, expires: float, now: float, by: int = 1) -> int:
        self.writes += 1
        return super().increment(namespace, key, expires, now, by)


def workers(limit: int, clock: FakeTime, count: int = 2) -> tuple[CountedStore, list[RateLimiter]]:
    """Limiters of ``count`` worker processes sharing one store, reserving numbers in leases."""
    shared = CountedStore()
    return shared, [
        RateLimiter(limit=limit, window_seconds=60, shared=shared, now=clock.time, lease_max=LEASE_MAX)
        for _ in range(count)
    ]


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
        "RateLimit-Policy": '"default";q=5;w=60',
        "RateLimit": '"default";r=4;t=45',
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


# IETF draft-ietf-httpapi-ratelimit-headers-11, sections 3 and 4: a List of one Item each, a String naming the
# policy, with Integer parameters (q, w on the policy; r, t on the service limit).
POLICY_FIELD = re.compile(r'"(?P<name>[a-z][a-z0-9_-]*)";q=(?P<q>\d+);w=(?P<w>\d+)')
LIMIT_FIELD = re.compile(r'"(?P<name>[a-z][a-z0-9_-]*)";r=(?P<r>\d+);t=(?P<t>\d+)')


def fields(headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The RateLimit-Policy and RateLimit fields parsed by the draft's syntax (fails on any other shape)."""
    policy = POLICY_FIELD.fullmatch(headers["RateLimit-Policy"])
    limit = LIMIT_FIELD.fullmatch(headers["RateLimit"])
    assert policy, headers
    assert limit, headers
    return policy.groupdict(), limit.groupdict()


def test_a_policy_overrides_the_default_limit_and_window(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1000, window_seconds=3600, now=clock.time)
    clock.now += 5
    budget = limiter.spend("key:1", RatePolicy(limit=2, window_seconds=10))
    assert (budget.limit, budget.remaining, budget.reset_seconds) == (2, 1, 5)
    limiter.spend("key:1", RatePolicy(2, 10))
    with pytest.raises(RateLimited, match="2 requests per 10 s") as caught:
        limiter.spend("key:1", RatePolicy(2, 10))
    assert caught.value.headers["Retry-After"] == "5"
    clock.now += 5  # the policy's own 10 s window ends, far inside the default's hour
    assert limiter.spend("key:1", RatePolicy(2, 10)).remaining == 1


def test_the_default_and_a_policy_count_apart(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=3, window_seconds=60, now=clock.time)
    limiter.spend("key:1")
    limiter.spend("key:1", RatePolicy(5, 60))
    assert limiter.peek("key:1").remaining == 2
    assert limiter.peek("key:1", RatePolicy(5, 60)).remaining == 4


def test_a_changed_policy_starts_a_fresh_window(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1000, window_seconds=3600, now=clock.time)
    for _ in range(3):
        limiter.spend("key:1", RatePolicy(3, 60))
    with pytest.raises(RateLimited):
        limiter.spend("key:1", RatePolicy(3, 60))
    assert limiter.spend("key:1", RatePolicy(4, 60)).remaining == 3  # a new limit: a fresh count
    assert limiter.spend("key:1", RatePolicy(3, 120)).remaining == 2  # a new window: a fresh count


def test_check_and_peek_follow_the_policy(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1000, window_seconds=3600, now=clock.time)
    policy = RatePolicy(1, 30)
    limiter.check("authfail:1.2.3.4", "too many", policy)
    limiter.spend("authfail:1.2.3.4", policy)
    with pytest.raises(RateLimited, match="too many") as caught:
        limiter.check("authfail:1.2.3.4", "too many", policy)
    assert caught.value.headers["RateLimit"] == '"key";r=0;t=30'
    limiter.check("authfail:1.2.3.4", "too many")  # the default policy's count is untouched
    budget = limiter.peek("authfail:1.2.3.4", policy)
    assert (budget.policy, budget.remaining, budget.reset_seconds) == (policy, 0, 30)


def test_a_keys_policy_is_named_key_in_the_headers(clock: FakeTime) -> None:
    clock.now += 20
    budget = RateLimiter(limit=1000, window_seconds=3600, now=clock.time).spend("key:1", RatePolicy(100, 60))
    assert budget.headers()["RateLimit-Policy"] == '"key";q=100;w=60'
    assert budget.headers()["RateLimit"] == '"key";r=99;t=40'
    assert budget.headers()["X-RateLimit-Limit"] == "100"


def test_the_ietf_fields_agree_with_the_x_ratelimit_headers(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=7, window_seconds=90, now=clock.time)
    for step in range(7):
        clock.now += 3.5
        headers = limiter.spend("ip:127.0.0.1").headers()
        policy, limit = fields(headers)
        assert policy == {"name": "default", "q": headers["X-RateLimit-Limit"], "w": "90"}
        assert limit == {"name": "default", "r": headers["X-RateLimit-Remaining"], "t": headers["X-RateLimit-Reset"]}
        assert int(limit["r"]) == 6 - step


def test_a_429_carries_both_header_families_with_nothing_left(clock: FakeTime) -> None:
    limiter = RateLimiter(limit=1000, window_seconds=3600, now=clock.time)
    policy = RatePolicy(1, 60)
    limiter.spend("key:1", policy)
    clock.now += 45.5
    with pytest.raises(RateLimited) as caught:
        limiter.spend("key:1", policy)
    headers = caught.value.headers
    assert headers["Retry-After"] == "15"  # 14.5 s left, rounded up: waiting that long is always enough
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"], headers["X-RateLimit-Reset"]) == (
        "1",
        "0",
        "15",
    )
    assert fields(headers) == ({"name": "key", "q": "1", "w": "60"}, {"name": "key", "r": "0", "t": "15"})


def test_windows_follow_the_injected_clock_not_the_wall_clock(clock: FakeTime) -> None:
    clock.now = 1_000_000_000.0  # 2001: any real time.time() would be in another window entirely
    limiter = RateLimiter(limit=2, window_seconds=100, now=clock.time)
    assert limiter.spend("key:1").reset_seconds == 100
    clock.now += 99
    assert limiter.spend("key:1").reset_seconds == 1
    with pytest.raises(RateLimited):
        limiter.spend("key:1")
    clock.now += 1  # the clock jumps into the next window: a fresh budget at once
    assert limiter.spend("key:1").remaining == 1
    clock.now += 3 * 86_400  # a sandbox clock moved three days ahead
    assert limiter.peek("key:1").remaining == 2


@pytest.mark.parametrize(
    ("limit", "window"),
    [(0, 60), (10, 0), (-1, 60), (True, 60), (10, 1.5), ("10", 60)],
)
def test_a_policy_needs_whole_positive_numbers(limit: object, window: object) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RatePolicy(limit, window)  # type: ignore[arg-type]


def test_a_policy_name_must_need_no_escaping_in_a_structured_field() -> None:
    with pytest.raises(ValueError, match="name"):
        RatePolicy(10, 60, 'say "hi"')


KEYS = """
companies:
  - id: 1
    name: Acme
    keys:
      - name: Limited
        key: sk_test_limited
        scopes: ["*"]
        rate_limit: {rate_limit}
      - name: Unlimited
        key: sk_test_plain
        scopes: ["*"]
"""


def write_keys(directory: Path, rate_limit: str) -> Path:
    """A fixtures folder whose first key carries ``rate_limit`` (YAML flow text)."""
    (directory / "companies.yaml").write_text(KEYS.replace("{rate_limit}", rate_limit), encoding="utf-8")
    return directory


def test_a_fixture_key_may_carry_its_own_rate_limit(tmp_path: Path) -> None:
    keys = load_fixtures(write_keys(tmp_path, "{limit: 100, window_seconds: 60}")).companies[0].keys
    assert keys[0].rate_limit == RatePolicy(limit=100, window_seconds=60)
    assert keys[0].rate_limit.name == "key"
    assert keys[1].rate_limit is None


def test_the_shipped_fixture_keys_use_the_sandbox_wide_limit() -> None:
    fixtures = load_fixtures(Path(__file__).resolve().parents[2] / "fixtures")
    assert all(key.rate_limit is None for company in fixtures.companies for key in company.keys)


@pytest.mark.parametrize(
    ("rate_limit", "complaint"),
    [
        ("{limit: 0, window_seconds: 60}", "limit must be a whole number of at least 1, not 0"),
        ("{limit: 10, window_seconds: -5}", "window_seconds must be a whole number of at least 1, not -5"),
        ("{limit: ten, window_seconds: 60}", "limit must be a whole number of at least 1, not 'ten'"),
        ("{limit: 10}", "must be a mapping of exactly limit and window_seconds"),
        ("{limit: 10, window_seconds: 60, burst: 5}", "must be a mapping of exactly limit and window_seconds"),
        ("100", "must be a mapping of exactly limit and window_seconds, not 100"),
    ],
)
def test_a_bad_fixture_rate_limit_is_a_clear_error(tmp_path: Path, rate_limit: str, complaint: str) -> None:
    with pytest.raises(FixturesError, match="key 'Limited': rate_limit") as caught:
        load_fixtures(write_keys(tmp_path, rate_limit))
    assert complaint in str(caught.value)


def test_workers_reserve_numbers_in_blocks_and_never_admit_more_than_the_limit(clock: FakeTime) -> None:
    limit = 200 * LEASE_SPAN
    shared, (first, second) = workers(limit, clock)
    admitted = 0
    for turn in range(limit + 500):
        try:
            (first if turn % 3 else second).spend("key:1")
        except RateLimited:
            continue
        admitted += 1
    assert limit - 2 * LEASE_MAX <= admitted <= limit  # at most a block per worker left unspent
    assert shared.writes < limit // 10  # far from the limit, one write per block instead of per request


def test_a_limit_within_the_lease_span_is_counted_exactly_across_workers(clock: FakeTime) -> None:
    shared, (first, second) = workers(LEASE_SPAN, clock)
    remaining = [(first if turn % 2 else second).spend("key:1").remaining for turn in range(LEASE_SPAN)]
    assert remaining == list(range(LEASE_SPAN - 1, -1, -1))
    with pytest.raises(RateLimited):
        first.spend("key:1")
    with pytest.raises(RateLimited):
        second.spend("key:1")
    assert shared.writes == LEASE_SPAN + 2


def test_the_last_requests_of_a_window_are_counted_one_by_one(clock: FakeTime) -> None:
    limit = 3 * LEASE_SPAN
    _shared, (first, second) = workers(limit, clock)
    for turn in range(limit - LEASE_SPAN):
        (first if turn % 2 else second).spend("key:1")
    tail = [(first if turn % 2 else second).spend("key:1").remaining for turn in range(LEASE_SPAN // 2)]
    assert tail == sorted(tail, reverse=True)  # exact by now: each request one below the one before
    assert tail[0] - tail[-1] == len(tail) - 1


def test_a_worker_that_was_away_counts_one_by_one_near_the_limit(clock: FakeTime) -> None:
    limit = 100 * LEASE_SPAN
    _shared, (first, second) = workers(limit, clock)
    for _ in range(LEASE_MAX):  # the first worker spends its first block, then hears no more for a while
        first.spend("key:1")
    for _ in range(limit - LEASE_MAX - 10):
        second.spend("key:1")
    last_ten = [(first if turn % 2 else second).spend("key:1").remaining for turn in range(10)]
    assert last_ten == list(range(9, -1, -1))  # its next block is sized by the count now, not by what it saw
    with pytest.raises(RateLimited):
        first.spend("key:1")


def test_clearing_drops_every_workers_reserved_numbers(clock: FakeTime) -> None:
    limit = 100 * LEASE_SPAN
    _shared, (first, second) = workers(limit, clock)
    first.spend("key:1")
    second.spend("key:1")
    first.clear()
    second.forget_leases()  # what each worker does when the control state says the counts were cleared
    assert first.spend("key:1").remaining == limit - 1
    assert second.spend("key:1").remaining == limit - 1 - LEASE_MAX


def test_a_new_window_starts_a_new_lease(clock: FakeTime) -> None:
    limit = 100 * LEASE_SPAN
    _shared, (first, _second) = workers(limit, clock)
    assert first.spend("key:1").remaining == limit - 1
    clock.now += 60
    assert first.spend("key:1").remaining == limit - 1
