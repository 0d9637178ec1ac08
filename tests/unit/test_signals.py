"""Change signals: what one process bumps, every process opening the same file sees at once.

Two stores on one file stand for two worker processes: each has its own connections and its own
mapping of the signals file, as a forked worker does.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.errors import RateLimited
from mockserver.platform.control_state import ControlState
from mockserver.platform.ratelimit import RateLimiter, RatePolicy
from mockserver.store.signals import SLOTS, SharedSignals, open_signals
from mockserver.store.sqlite import SqliteStore


def test_a_bump_moves_the_token_every_mapping_of_the_file_reads(tmp_path: Path) -> None:
    one, two = SharedSignals(tmp_path / "signals"), SharedSignals(tmp_path / "signals")
    seen = two.token("control")
    one.bump("control")
    assert two.token("control") != seen
    assert one.token("control") == two.token("control")
    steady = two.token("control")
    assert two.token("control") == steady  # nothing bumped: the same token


def test_every_bump_writes_a_token_never_written_before(tmp_path: Path) -> None:
    """Two processes bumping one topic at once must not leave it at a token a reader already saw."""
    signals = SharedSignals(tmp_path / "signals")
    tokens = set()
    for _ in range(100):
        signals.bump("topic")
        tokens.add(signals.token("topic"))
    assert len(tokens) == 100


def _bump_in_a_child(path: Path) -> None:
    SharedSignals(path).bump("control")


def test_a_bump_in_another_process_is_seen_here(tmp_path: Path) -> None:
    signals = SharedSignals(tmp_path / "signals")
    seen = signals.token("control")
    child = multiprocessing.get_context("spawn").Process(target=_bump_in_a_child, args=(tmp_path / "signals",))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert signals.token("control") != seen


def test_topics_in_other_slots_do_not_move_each_other(tmp_path: Path) -> None:
    signals = SharedSignals(tmp_path / "signals")
    before = {f"topic-{n}": signals.token(f"topic-{n}") for n in range(SLOTS // 8)}
    signals.bump("control")
    moved = [topic for topic, token in before.items() if signals.token(topic) != token]
    assert len(moved) <= 1  # only a topic hashed onto control's own slot, if any


def test_a_file_that_cannot_be_written_means_no_signals(tmp_path: Path) -> None:
    assert open_signals(tmp_path / "missing-folder" / "signals") is None


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    first, second = SqliteStore({}, tmp_path / "state.db"), SqliteStore({}, tmp_path / "state.db")
    yield first, second
    first.close()
    second.close()


def test_a_file_store_shares_signals_beside_its_file(two_workers: tuple[SqliteStore, SqliteStore]) -> None:
    for store in two_workers:
        assert store.ephemera.signals is not None
        assert Path(f"{store.path}-signals").exists()
    private = SqliteStore({})
    try:
        assert private.ephemera.signals is None  # a private temporary database: nothing to share
    finally:
        private.close()


def test_a_control_change_on_one_worker_is_in_force_on_the_other_at_its_next_request(
    two_workers: tuple[SqliteStore, SqliteStore],
) -> None:
    first, second = (ControlState(store.ephemera) for store in two_workers)
    first.refresh()
    second.refresh()
    first.update(lambda document: document.update(faults=[{"kind": "error"}]))
    second.refresh()
    assert second.document == {"faults": [{"kind": "error"}]}
    second.update(lambda document: document.clear())
    first.refresh()
    assert first.document == {}


def test_failures_counted_on_one_worker_close_the_gate_on_the_other(
    two_workers: tuple[SqliteStore, SqliteStore],
) -> None:
    """A worker that found an address under its limit must not keep believing it once another counted past it."""
    policy = RatePolicy(3, 3600, "default")
    here, there = (RateLimiter(1000, 3600, store.ephemera, now=lambda: 1_000.0) for store in two_workers)
    here.check("authfail:10.0.0.1", "too many", policy)  # under the limit: remembered as such
    for _ in range(3):
        there.spend("authfail:10.0.0.1", policy)
    with pytest.raises(RateLimited):
        here.check("authfail:10.0.0.1", "too many", policy)
