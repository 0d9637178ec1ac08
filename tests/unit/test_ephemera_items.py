"""Ephemera ``items`` and ``trim`` on every engine: in memory, SQLite (temporary and file) and PostgreSQL.

The PostgreSQL variant runs when a server is configured (see ``tests/postgres.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.store import Ephemera
from mockserver.store.ephemera import MemoryEphemera
from unit.engines import ephemera_on

FOREVER = 1e18
# Code point order, which a PostgreSQL collation such as en_US would not give (it skips punctuation).
KEYS = ["ab", "a-b", "B", "a_c", "a", "0-10", "0-9", "é"]


@pytest.fixture(params=["memory", "sqlite-temporary", "sqlite-file", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ephemera]:
    with ephemera_on(request.param, request, tmp_path) as shared:
        yield shared


def test_items_are_the_live_values_of_one_namespace_in_code_point_order(shared: Ephemera) -> None:
    for n, key in enumerate(KEYS):
        shared.set("journal", key, {"n": n, "key": key}, FOREVER)
    shared.set("journal", "old", "gone", expires=10)
    shared.set("other", "zz", "elsewhere", FOREVER)
    items = shared.items("journal", now=20)
    assert [key for key, _ in items] == sorted(KEYS)
    assert dict(items)["a-b"] == {"n": 1, "key": "a-b"}
    assert "old" in dict(shared.items("journal", now=5))  # not yet expired at 5
    assert shared.items("nothing", now=0) == []


def test_trim_keeps_the_greatest_keys_and_counts_what_went(shared: Ephemera) -> None:
    for n, key in enumerate(KEYS):
        shared.set("journal", key, n, FOREVER)
    shared.set("other", "a", 1, FOREVER)
    assert shared.trim("journal", 3) == len(KEYS) - 3
    assert [key for key, _ in shared.items("journal", now=0)] == sorted(KEYS)[-3:]
    assert shared.trim("journal", 3) == 0  # nothing more to drop
    assert shared.trim("journal", 10) == 0
    assert shared.trim("journal", 0) == 3
    assert shared.items("journal", now=0) == []
    assert shared.items("other", now=0) == [("a", 1)]  # another namespace lost nothing


def test_trim_of_many_keys_deletes_them_in_chunks(shared: Ephemera) -> None:
    for n in range(1300):
        shared.set("journal", f"{n:06d}", n, FOREVER)
    assert shared.trim("journal", 100) == 1200
    assert [value for _, value in shared.items("journal", now=0)] == list(range(1200, 1300))


def test_trim_and_writes_from_several_threads_keep_the_newest(shared: Ephemera) -> None:
    def write(worker: int) -> None:
        for n in range(60):
            shared.set("journal", f"{n:04d}-{worker}", n, FOREVER)
            if n % 20 == 19:
                shared.trim("journal", 10)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.trim("journal", 10)
    keys = [key for key, _ in shared.items("journal", now=0)]
    assert keys == sorted(f"{n:04d}-{w}" for n in range(60) for w in range(3))[-10:]


def test_memory_items_follow_discard_clear_and_the_cap() -> None:
    shared = MemoryEphemera(max_entries=5)
    for n in range(8):
        shared.set("journal", f"{n}", n, FOREVER)  # one expiry for all: the smallest keys go first
    assert [key for key, _ in shared.items("journal", now=0)] == ["3", "4", "5", "6", "7"]
    shared.discard("journal", "5")
    assert [key for key, _ in shared.items("journal", now=0)] == ["3", "4", "6", "7"]
    assert shared.trim("journal", 2) == 2
    shared.clear()
    assert shared.items("journal", now=0) == []
    shared.set("journal", "again", 1, FOREVER)
    assert shared.items("journal", now=0) == [("again", 1)]


def test_a_namespace_timed_by_another_clock_is_not_purged_by_a_write_elsewhere(shared: Ephemera) -> None:
    # Idempotency keys follow the sandbox's clock (pinned months back here); webhook leases follow real time.
    sandbox_now, real_now = 1_750_000_000.0, 1_765_000_000.0
    assert shared.claim("idempotency", "1:key", {"reply": 1}, sandbox_now + 86_400, sandbox_now) is None
    for n in range(600):  # past the point where writes purge what expired
        shared.claim("webhook-lease", f"lease-{n}", "me", real_now + 30, real_now)
    assert shared.get("idempotency", "1:key", sandbox_now) == {"reply": 1}
    assert shared.claim("idempotency", "1:key", {"reply": 2}, sandbox_now + 86_400, sandbox_now) == {"reply": 1}
