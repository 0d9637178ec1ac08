"""The idempotency store on its own: claims, replays, conflicts, expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.behaviours.context import Reply
from mockserver.errors import Conflict, ValidationFailed
from mockserver.platform.idempotency import Claim, IdempotencyStore
from unit.engines import ephemera_on


def test_a_second_request_while_the_first_runs_is_a_conflict() -> None:
    store = IdempotencyStore()
    assert isinstance(store.begin(1, "k", "fp"), Claim)
    with pytest.raises(Conflict):
        store.begin(1, "k", "fp")


def test_a_finished_request_is_replayed_with_the_replayed_header() -> None:
    store = IdempotencyStore()
    claim = store.begin(1, "k", "fp")
    assert isinstance(claim, Claim)
    store.finish(claim, Reply(201, {"id": 7}, raw=b'{"id":7}'), "req-1")
    replay = store.begin(1, "k", "fp")
    assert isinstance(replay, Reply)
    assert (replay.status, replay.raw, replay.headers["Idempotent-Replayed"]) == (201, b'{"id":7}', "true")
    assert replay.headers["X-Request-Id"] == "req-1"


def test_a_different_request_under_the_same_key_is_rejected() -> None:
    store = IdempotencyStore()
    claim = store.begin(1, "k", "fp")
    assert isinstance(claim, Claim)
    store.finish(claim, Reply(201), "req-1")
    with pytest.raises(ValidationFailed):
        store.begin(1, "k", "other")


def test_server_errors_and_rate_limits_release_the_key() -> None:
    store = IdempotencyStore()
    for status in (429, 500):
        claim = store.begin(1, "k", "fp")
        assert isinstance(claim, Claim)
        store.finish(claim, Reply(status), "req-1")
    assert isinstance(store.begin(1, "k", "fp"), Claim)


def test_keys_expire_after_the_window() -> None:
    store = IdempotencyStore(window_seconds=-1)
    claim = store.begin(1, "k", "fp")
    assert isinstance(claim, Claim)
    store.finish(claim, Reply(201), "req-1")
    assert isinstance(store.begin(1, "k", "other"), Claim)


def test_the_fingerprint_separates_path_query_and_body() -> None:
    fp = IdempotencyStore.fingerprint
    assert fp("POST", "/a", b"", "application/json", b"x") != fp("POST", "/a", b"x", "application/json", b"")
    assert fp("POST", "/a", b"", "application/json", b"x") != fp("POST", "/a", b"", "text/plain", b"x")
    assert fp("POST", "/a", b"", "application/json", b"x") == fp("POST", "/a", b"", "application/json", b"x")


@pytest.mark.parametrize("engine", ["memory", "sqlite-file", "postgres"])
def test_a_key_of_any_length_is_claimed_and_replayed_on_every_engine(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A spec may set no maxLength on its key header: 6,000 characters no index entry could hold (PostgreSQL: 422)."""
    key = "".join(f"{number:06x}" for number in range(1000))
    with ephemera_on(engine, request, tmp_path) as shared:
        store = IdempotencyStore(shared=shared)
        claim = store.begin(1, key, "fp")
        assert isinstance(claim, Claim)
        store.finish(claim, Reply(201, {"id": 7}), "req-1")
        assert isinstance(store.begin(1, key, "fp"), Reply)
        assert isinstance(store.begin(1, key[:-1], "fp"), Claim)  # another key
        assert isinstance(store.begin(2, key, "fp"), Claim)  # keys are per company
        store.clear(1)
        assert isinstance(store.begin(1, key, "fp"), Claim)
