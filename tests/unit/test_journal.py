"""The request journal on its own: shape, clock, redaction, bodies, filters, bound, sharing by workers."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from mockserver.errors import ValidationFailed
from mockserver.platform.journal import (
    BODY_LIMIT,
    HEARTBEAT_SECONDS,
    NAMESPACE,
    Journal,
    JournalEntry,
    body_text,
    redact,
    rfc3339,
)
from mockserver.store import Ephemera, StoreUnavailable
from mockserver.store.ephemera import MemoryEphemera
from mockserver.store.sqlite import SqliteStore
from unit.engines import ephemera_on

PINNED = datetime(2026, 11, 30, 10, 0, tzinfo=UTC).timestamp()


def journal(size: int = 1000, *, bodies: bool = False, shared: Ephemera | None = None) -> Journal:
    store = MemoryEphemera() if shared is None else shared  # an empty MemoryEphemera is falsy (it has __len__)
    return Journal(store, lambda: PINNED + 0.1239, size=size, bodies=bodies)


def served(book: Journal, n: int = 0, **values: Any) -> JournalEntry:
    """Record one request (``n`` makes its path and request id) and return its entry."""
    fields: dict[str, Any] = {
        "method": "get",
        "path": f"/api/v1/invoices/{n}",
        "status": 200,
        "latency_ms": 1.25,
        "request_id": f"req-{n}",
        **values,
    }
    entry = book.entry(**fields)
    book.record(entry)
    return entry


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ephemera]:
    with ephemera_on(request.param, request, tmp_path) as shared:
        yield shared


# --- the entry ----------------------------------------------------------------------------------------------


def test_an_entry_is_json_ready_and_stamped_by_the_sandbox_clock() -> None:
    book = journal()
    served(book, 1, query="page=2", key_name="acme-full", operation_id="getInvoice", latency_ms=12.345)
    [entry] = book.entries()
    assert orjson.loads(orjson.dumps(entry)) == entry
    assert entry["at"] == "2026-11-30T10:00:00.123Z"  # the pinned sandbox clock, milliseconds rounded down
    assert (entry["method"], entry["path"], entry["query"], entry["status"]) == (
        "GET",
        "/api/v1/invoices/1",
        "page=2",
        200,
    )
    assert (entry["latency_ms"], entry["request_id"], entry["key_name"]) == (12.3, "req-1", "acme-full")
    assert entry["operation_id"] == "getInvoice"
    assert entry["message"] is None
    assert entry["errors"] is None
    assert entry["request_body"] is None
    assert set(entry) == set(JournalEntry.__dataclass_fields__)


def test_a_refused_request_keeps_its_message_and_field_errors() -> None:
    book = journal()
    served(book, status=422, message="The given data was invalid", errors={"amount": ("Must be positive.",)})
    [entry] = book.entries()
    assert entry["message"] == "The given data was invalid"
    assert entry["errors"] == {"amount": ["Must be positive."]}


def test_rfc3339_has_milliseconds_and_rounds_down() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"
    assert rfc3339(PINNED + 0.9999) == "2026-11-30T10:00:00.999Z"
    assert rfc3339(-0.5) == "1969-12-31T23:59:59.500Z"


def test_credentials_are_redacted_and_other_headers_kept() -> None:
    headers = [
        ("Authorization", "Bearer sk_test_1"),
        ("Cookie", "session=1"),
        ("Proxy-Authorization", "Basic x"),
        ("X-Api-Key", "k"),
        ("X-Auth-Token", "t"),
        ("X-Client-Secret", "s"),
        ("Sec-WebSocket-Key", "w"),
        ("Idempotency-Key", "retry-7"),
        ("Content-Type", "application/json"),
        ("Accept", "text/html"),
        ("accept", "application/json"),
    ]
    shown = redact(headers)
    assert shown == {
        "Authorization": "[redacted]",
        "Cookie": "[redacted]",
        "Proxy-Authorization": "[redacted]",
        "X-Api-Key": "[redacted]",
        "X-Auth-Token": "[redacted]",
        "X-Client-Secret": "[redacted]",
        "Sec-WebSocket-Key": "[redacted]",
        "Idempotency-Key": "retry-7",  # no secret, and what a reader of retries looks for
        "Content-Type": "application/json",
        "Accept": "text/html, application/json",
    }
    assert redact({"authorization": "x"}) == {"authorization": "[redacted]"}
    book = journal()
    served(book, request_headers={"Authorization": "Bearer sk_test_1", "X-Request-Id": "r"})
    assert book.entries()[0]["request_headers"] == {"Authorization": "[redacted]", "X-Request-Id": "r"}


# --- bodies -------------------------------------------------------------------------------------------------


def test_bodies_are_kept_only_when_switched_on() -> None:
    book = journal()
    served(book, request_body=b'{"a":1}', response_body=b'{"id":1}')
    assert book.entries()[0]["request_body"] is None
    assert book.entries()[0]["response_body"] is None
    book.bodies = True  # may change at runtime
    served(book, 2, request_body=b'{"a":1}', response_body='{"name":"Zoë"}'.encode())
    newest = book.entries()[0]
    assert (newest["request_body"], newest["request_body_encoding"]) == ('{"a":1}', "utf-8")
    assert (newest["response_body"], newest["response_body_encoding"]) == ('{"name":"Zoë"}', "utf-8")


def test_a_journal_without_bodies_drops_the_bodies_of_an_entry_built_with_them() -> None:
    with_bodies = journal(bodies=True)
    entry = with_bodies.entry(method="POST", path="/x", status=201, latency_ms=1, request_id="r", request_body=b"{}")
    book = journal()
    book.record(entry)
    assert book.entries()[0]["request_body"] is None
    assert book.entries()[0]["request_body_encoding"] is None


def test_long_bodies_are_cut_with_a_marker_and_binary_ones_are_base64() -> None:
    text, encoding = body_text(b"x" * (BODY_LIMIT + 10))
    assert encoding == "utf-8"
    assert text == "x" * BODY_LIMIT + f"…[truncated: {BODY_LIMIT + 10} bytes in all]"
    cut_in_a_character = b"x" * (BODY_LIMIT - 1) + "é".encode() + b"tail"
    text, encoding = body_text(cut_in_a_character)
    assert encoding == "utf-8"
    assert text is not None
    assert text.startswith("x" * (BODY_LIMIT - 1) + "…[truncated")
    binary = bytes(range(256)) * 2
    text, encoding = body_text(binary)
    assert encoding == "base64"
    assert text is not None
    assert base64.b64decode(text) == binary
    text, encoding = body_text(b"\xff" * (BODY_LIMIT + 1))
    assert encoding == "base64"
    assert text is not None
    assert base64.b64decode(text.split("…")[0]) == b"\xff" * BODY_LIMIT
    assert body_text(None) == (None, None)
    assert body_text(b"") == ("", "utf-8")


# --- filters ------------------------------------------------------------------------------------------------


@pytest.fixture
def busy() -> Journal:
    book = journal()
    served(book, 1, method="GET", path="/api/v1/invoices", status=200, key_name="acme-full")
    served(book, 2, method="POST", path="/api/v1/invoices", status=201, key_name="acme-full")
    served(book, 3, method="GET", path="/api/v1/invoices/7/lines", status=404, key_name="globex")
    served(book, 4, method="DELETE", path="/api/v1/customers/9", status=409, key_name=None)
    served(book, 5, method="GET", path="/health", status=503)
    return book


def ids(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["request_id"] for entry in entries]


def test_entries_come_newest_first(busy: Journal) -> None:
    assert ids(busy.entries()) == ["req-5", "req-4", "req-3", "req-2", "req-1"]
    assert ids(busy.entries(limit=2)) == ["req-5", "req-4"]
    assert busy.entries(limit=0) == []


def test_the_path_filter_is_a_glob_whose_star_crosses_slashes(busy: Journal) -> None:
    assert ids(busy.entries(path="/api/v1/invoices*")) == ["req-3", "req-2", "req-1"]
    assert ids(busy.entries(path="/api/v1/invoices")) == ["req-2", "req-1"]
    assert ids(busy.entries(path="*/lines")) == ["req-3"]
    assert ids(busy.entries(path="/api/v1/customers/?")) == ["req-4"]
    assert busy.entries(path="/API/*") == []  # paths are case-sensitive


def test_method_status_request_id_and_key_filters(busy: Journal) -> None:
    assert ids(busy.entries(method="get")) == ["req-5", "req-3", "req-1"]
    assert ids(busy.entries(status="404")) == ["req-3"]
    assert ids(busy.entries(status="4xx")) == ["req-4", "req-3"]
    assert ids(busy.entries(status="2XX")) == ["req-2", "req-1"]
    assert ids(busy.entries(status="5xx")) == ["req-5"]
    assert ids(busy.entries(request_id="req-2")) == ["req-2"]
    assert ids(busy.entries(key="acme-full")) == ["req-2", "req-1"]
    assert ids(busy.entries(key="acme-full", method="GET", path="/api/*", limit=5)) == ["req-1"]


@pytest.mark.parametrize(("status", "limit"), [("4x", None), ("600", None), ("abc", None), (None, -1)])
def test_a_filter_that_means_nothing_is_refused(busy: Journal, status: str | None, limit: int | None) -> None:
    with pytest.raises(ValidationFailed) as refused:
        busy.entries(status=status, limit=limit)
    assert refused.value.errors is not None
    assert set(refused.value.errors) == {"status" if status else "limit"}


def test_entries_are_copies_a_caller_may_change(busy: Journal) -> None:
    busy.entries()[0]["status"] = 999
    assert busy.entries()[0]["status"] == 503


# --- bound, clear, sharing ----------------------------------------------------------------------------------


def test_the_journal_is_bounded_by_its_size(shared: Ephemera) -> None:
    book = journal(50, shared=shared)
    for n in range(130):
        served(book, n)
        assert len(shared.items(NAMESPACE, 0)) <= 50 + 50 // 10  # trimmed every size // 10 records
    assert ids(book.entries()) == [f"req-{n}" for n in range(129, 79, -1)]
    book.size = 10  # smaller at runtime: reads shrink at once, the store at the next trim
    assert ids(book.entries()) == [f"req-{n}" for n in range(129, 119, -1)]
    assert book.trim() == 40
    assert len(shared.items(NAMESPACE, 0)) == 10


def test_a_size_of_zero_records_nothing() -> None:
    book = journal(0)
    served(book)
    assert book.entries() == []
    book.size = 5
    assert book.entries() == []


def test_a_size_of_one_keeps_the_latest() -> None:
    book = journal(1)
    for n in range(3):
        served(book, n)
    assert ids(book.entries()) == ["req-2"]


def test_clear_forgets_every_entry(shared: Ephemera) -> None:
    book = journal(shared=shared)
    served(book, 1)
    book.clear()
    assert book.entries() == []
    served(book, 2)
    assert ids(book.entries()) == ["req-2"]


def test_workers_share_one_journal_in_arrival_order(shared: Ephemera) -> None:
    first, second = journal(shared=shared), journal(shared=shared)  # two workers' journals
    for n in range(6):
        served(first if n % 2 else second, n)
    assert ids(first.entries()) == ids(second.entries()) == [f"req-{n}" for n in range(5, -1, -1)]


def test_keys_stay_unique_and_ordered_when_the_wall_clock_stalls(monkeypatch: pytest.MonkeyPatch) -> None:

    stalled = SimpleNamespace(time_ns=lambda: 1_000, time=time.time, monotonic=time.monotonic, sleep=time.sleep)
    monkeypatch.setattr("mockserver.platform.journal.time", stalled)
    shared = MemoryEphemera()
    first, second = journal(shared=shared), journal(shared=shared)
    for n in range(4):
        served(first if n % 2 else second, n)
    assert ids(first.entries()) == ["req-3", "req-2", "req-1", "req-0"]


# --- a journal alone in its process ----------------------------------------------------------------------------


def test_a_local_journal_shows_what_a_shared_one_shows() -> None:
    shared = journal(size=3)
    local = Journal(MemoryEphemera(), lambda: PINNED + 0.1239, size=3, local=True)
    for n in range(5):
        request: dict[str, Any] = {
            "method": "post",
            "path": f"/api/v1/customers/{n}",
            "status": 422 if n % 2 else 201,
            "latency_ms": 2.0,
            "request_id": f"req-{n}",
            "errors": {"name": ["required"]} if n % 2 else None,
            "request_headers": [("Authorization", "Bearer sk_test_secret"), ("Accept", "*/*")],
            "request_body": b'{"name": 1}',
            "response_body": b"{}",
        }
        shared.record(shared.entry(**request))
        local.served(**request)
    assert local.entries() == shared.entries()
    assert [e["request_id"] for e in local.entries(status="4xx")] == ["req-3"]
    assert "sk_test_secret" not in str(local.entries())
    local.size = 1
    assert [e["request_id"] for e in local.entries()] == ["req-4"]
    local.clear()
    assert local.entries() == []


def test_a_local_journal_keeps_bodies_only_when_asked() -> None:
    local = Journal(MemoryEphemera(), lambda: PINNED, size=5, local=True)
    request: dict[str, Any] = {"method": "GET", "path": "/x", "status": 200, "latency_ms": 1.0, "request_id": "a"}
    local.served(**request, request_body=b"in", response_body=b"out")
    local.bodies = True
    local.served(**{**request, "request_id": "b"}, request_body=b"in", response_body=b"out")
    bodies = {e["request_id"]: (e["request_body"], e["response_body"]) for e in local.entries()}
    assert bodies == {"a": (None, None), "b": ("in", "out")}


# --- several workers: queued requests, flushed for every reader ---------------------------------------------------


def _request(n: int) -> dict[str, Any]:
    return {
        "method": "GET",
        "path": f"/api/v1/invoices/{n}",
        "status": 200,
        "latency_ms": 1.0,
        "request_id": f"req-{n}",
    }


def test_a_reader_sees_what_every_worker_queued_before_it_read(shared: Ephemera) -> None:
    workers = [Journal(shared, lambda: PINNED, size=100) for _ in range(3)]
    for n in range(9):
        workers[n % 3].served(**_request(n))  # queued: no worker wrote anything yet, its thread will
    assert sorted(ids(workers[0].entries())) == sorted(f"req-{n}" for n in range(9))
    workers[1].served(**_request(9))
    assert ids(workers[2].entries())[0] == "req-9"
    workers[2].clear()
    workers[0].served(**_request(10))
    assert ids(workers[1].entries()) == ["req-10"]


def test_a_worker_not_heard_from_is_not_waited_for(shared: Ephemera) -> None:
    shared.set("journal-sync", "worker:gone", {"answered": 0, "seen": 1.0}, 1e18)  # died long ago
    book = Journal(shared, lambda: PINNED, size=10)
    book.served(**_request(1))
    assert ids(book.entries()) == ["req-1"]
    assert all(key != "worker:gone" for key, _ in shared.items("journal-sync", 0.0))


def test_a_worker_writes_nothing_until_a_reader_asks_and_keeps_only_its_newest(
    shared: Ephemera, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mockserver.platform.journal.IDLE_SECONDS", 60.0)  # however slowly this test runs, it is busy
    worker, reader = Journal(shared, lambda: PINNED, size=5), Journal(shared, lambda: PINNED, size=5)
    for n in range(12):
        worker.served(**_request(n))
    time.sleep(0.4)  # longer than any periodic write would wait: a busy sandbox nobody reads spends nothing
    assert shared.items(NAMESPACE, 0.0) == []
    assert ids(reader.entries()) == [f"req-{n}" for n in range(11, 6, -1)]


def test_an_idle_worker_writes_what_it_holds_and_stops_polling(
    shared: Ephemera, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mockserver.platform.journal.IDLE_SECONDS", 0.2)
    worker, reader = Journal(shared, lambda: PINNED, size=5), Journal(shared, lambda: PINNED, size=5)
    for n in range(3):
        worker.served(**_request(n))

    def listed() -> list[str]:
        return [key for key, _ in shared.items("journal-sync", 0.0) if key.startswith("worker:")]

    deadline = time.monotonic() + 10
    while listed() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listed() == []  # it left the list readers wait for
    assert len(shared.items(NAMESPACE, 0.0)) == 3  # written as it left, with no reader asking
    assert ids(reader.entries()) == ["req-2", "req-1", "req-0"]
    worker.served(**_request(3))  # the next request brings it back
    assert ids(reader.entries())[0] == "req-3"


class _Unreachable(MemoryEphemera):
    """A shared store whose database may stop answering, as one does while it restarts."""

    down = False

    def get(self, namespace: str, key: str, now: float) -> Any:
        if self.down:
            raise StoreUnavailable("the database cannot serve now")
        return super().get(namespace, key, now)

    def set(self, namespace: str, key: str, value: Any, expires: float) -> None:
        if self.down:
            raise StoreUnavailable("the database cannot serve now")
        super().set(namespace, key, value, expires)


def test_a_database_that_cannot_serve_never_fails_the_request_being_journaled() -> None:
    shared = _Unreachable()
    worker, reader = Journal(shared, lambda: PINNED, size=5), Journal(shared, lambda: PINNED, size=5)
    shared.down = True
    worker.served(**_request(1))  # its flusher cannot start now: the request is kept all the same
    shared.down = False
    worker.served(**_request(2))
    assert ids(reader.entries()) == ["req-2", "req-1"]


def test_a_busy_worker_on_a_shared_file_asks_the_store_only_when_a_reader_signalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its thread looks every 20 ms whether a reader asked: a memory read of the file's signals, not a query."""
    monkeypatch.setattr("mockserver.platform.journal.IDLE_SECONDS", 60.0)
    store = SqliteStore({}, tmp_path / "journal.db")
    shared = store.ephemera
    assert shared.signals is not None
    reads: list[str] = []
    original = shared.get

    def counted(namespace: str, key: str, now: float) -> Any:
        if namespace == "journal-sync":
            reads.append(key)
        return original(namespace, key, now)

    monkeypatch.setattr(shared, "get", counted)
    try:
        worker, reader = Journal(shared, lambda: PINNED, size=5), Journal(shared, lambda: PINNED, size=5)
        began = time.monotonic()
        worker.served(**_request(1))
        time.sleep(0.5)  # 25 looks: the first reads the generation, the rest find the signal where it was
        before = len(reads)
        assert before <= 2 + int((time.monotonic() - began) / HEARTBEAT_SECONDS)  # the start, a look, heartbeats
        assert ids(reader.entries()) == ["req-1"]  # the reader's signal: the worker read, flushed and answered
        assert len(reads) > before
    finally:
        store.close()
