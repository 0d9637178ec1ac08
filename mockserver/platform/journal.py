"""A bounded journal of the requests the sandbox served, shared by every worker (like WireMock's).

Choices, so a reader of the journal knows what it holds:

- Entries live in the store's ephemera, namespace ``journal``, so every worker process writes to
  and reads from one journal. Each key is ``{ns:020d}-{pid:010d}``: wall-clock nanoseconds, made
  strictly increasing across the whole process (every ``Journal`` in it), and the process id, so
  keys are unique across processes and sort in arrival order. The wall clock, not the sandbox
  clock, orders them: a pinned sandbox clock would give every entry the same instant.
- ``at`` is the sandbox clock (``now()``, epoch seconds) when the entry is built, shown by
  ``entries`` as RFC 3339 UTC with milliseconds: a pinned or shifted sandbox clock shows in the
  journal as it shows in records. It is kept as a number and formatted when read: a request pays
  for what the journal must keep, not for how it is shown.
- Entries never expire (``FAR_FUTURE``); the journal is bounded by ``size`` instead. A worker
  holds at most its newest ``size`` requests until a reader asks for them, and trims the shared
  namespace to ``size`` after writing ``max(1, size // 10)`` entries or more, so with W workers at
  most about ``size + W * size`` entries are held for a moment, and ``entries()`` looks only at the
  newest ``size``, so a read never shows more than ``size`` whether or not a trim ran yet.
  ``size == 0`` turns recording off (older entries stay until ``clear`` or a trim).
  A journal in process memory (``MemoryEphemera``) also keeps at most its per-namespace cap.
- ``size`` and ``bodies`` are plain attributes of this process's ``Journal``: whoever changes them
  at runtime changes them in every worker. ``record`` drops bodies unless ``bodies`` is on.
- Bodies (when stored) are cut at 64 KiB of bytes; a cut body ends with
  ``…[truncated: N bytes in all]``. A body that is not UTF-8 is stored as base64 (of its first
  64 KiB) and its ``*_body_encoding`` says ``base64``; otherwise ``utf-8`` (None: no body stored).
- Request headers hold no secrets: Authorization, Cookie, Proxy-Authorization, X-Api-Key and any
  header whose name contains ``key``, ``token``, ``secret`` or ``auth`` read ``[redacted]``, except
  Idempotency-Key, which is no secret and is what a reader of retries looks for. Repeated headers
  are joined with ``, `` under the first spelling of the name. Query parameters named so (an apiKey in
  the query, ``access_token``) read ``[redacted]`` in ``query`` too.
- Filters of ``entries``: ``path`` is a case-sensitive glob (``fnmatch``; ``*`` also matches
  ``/``), ``method`` ignores case, ``status`` is a code (``404``) or a class (``4xx``),
  ``request_id`` and ``key`` (the key's name) are exact; ``limit`` caps the newest-first result.
  A filter that cannot mean anything (``status=4x``, ``limit=-1``) raises ``ValidationFailed``.
- ``entries`` returns fresh dicts (JSON-ready, newest first): a caller may change them freely.
"""

from __future__ import annotations

import collections
import contextlib
import fnmatch
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mockserver.errors import ValidationFailed
from mockserver.platform.journal_entry import (
    BODY_LIMIT,
    REDACTED,
    JournalEntry,
    body_text,
    build_entry,
    redact,
    rfc3339,
)
from mockserver.store import Ephemera

__all__ = [
    "BODY_LIMIT",
    "NAMESPACE",
    "REDACTED",
    "Journal",
    "JournalEntry",
    "body_text",
    "build_entry",
    "redact",
    "rfc3339",
]

log = logging.getLogger("mockserver")
NAMESPACE = "journal"
SYNC = "journal-sync"  # the flush generation readers ask for, and each writing worker's answer to it
POLL_SECONDS = 0.02  # how often a worker looks whether a reader asked (a read, no write)
HEARTBEAT_SECONDS = 1.0  # how often a worker says it is alive even when no reader asked
ALIVE_SECONDS = 3.0  # a worker not heard from for this long is not waited for
SYNC_WAIT_SECONDS = 2.0  # the longest a reader waits for the other workers' requests
IDLE_SECONDS = 1.0  # a flusher with nothing to write for this long ends
FAILURES_TO_STOP = 20  # a flusher failing this many times in a row (a closed store) ends
FAR_FUTURE = 1e18  # epoch seconds (year ~3e10): later than any sandbox clock
_STATUS = re.compile(r"[1-5](?:\d\d|xx)", re.IGNORECASE)


class _KeyMaker:
    """Journal keys for this process: strictly increasing wall-clock nanoseconds, then the process id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ns = 0

    def next(self) -> str:
        """A key greater than every key this process made before, unique across processes."""
        with self._lock:
            self._last_ns = max(self._last_ns + 1, time.time_ns())
            return f"{self._last_ns:020d}-{os.getpid():010d}"


_KEYS = _KeyMaker()


class Journal:
    """The newest ``size`` requests of every worker, newest first, filterable (bodies when ``bodies``).

    With ``local=True`` (a sandbox alone in its process) requests are kept as they came, in a deque
    of at most ``size``, and turned into entries only when read: a request then pays about a
    microsecond for the journal instead of building and storing an entry.

    Shared by several workers, each process keeps its newest ``size`` requests in memory, as they
    came, and writes them to the store only when a reader asks or it falls idle: a request never
    waits on a database write (one per request halved throughput on two workers), and a busy sandbox
    nobody reads the journal of spends nothing on it (writing every 250 ms cost a request 0.1 ms of CPU).
    A reader first asks every worker that journaled anything to flush (a generation in the store
    each worker's thread looks at every ``POLL_SECONDS`` and answers) and waits for the answers, so
    every request answered before the read is in what it reads, whichever worker served it. A
    worker idle for ``IDLE_SECONDS`` writes what it holds and its thread ends, so an idle sandbox
    wakes for nothing. A worker that dies takes the requests it had not written yet with it.
    """

    def __init__(
        self,
        shared: Ephemera,
        now: Callable[[], float],
        *,
        size: int = 1000,
        bodies: bool = False,
        local: bool = False,
    ) -> None:
        self.bodies = bodies
        self._shared = shared
        self._now = now
        self._lock = threading.Lock()
        self._since_trim = 0
        self._local: collections.deque[dict[str, Any]] | None = (
            collections.deque(maxlen=max(size, 0)) if local else None
        )
        self._size = size
        # (key, request), the newest ``size`` of this process, written when a reader asks
        self._pending: collections.deque[tuple[str, dict[str, Any]]] = collections.deque(maxlen=max(size, 0))
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._worker = f"{os.getpid()}-{id(self)}"
        self._answered = 0  # the last flush generation this worker answered
        self._heard = 0.0  # when this worker last told the store it is alive
        self._sync_token: int | None = None  # the change signal of the generation when this worker last read it

    @property
    def size(self) -> int:
        """How many requests are kept (0: none)."""
        return self._size

    @size.setter
    def size(self, size: int) -> None:
        self._size = size
        if self._local is not None and self._local.maxlen != max(size, 0):
            self._local = collections.deque(self._local, maxlen=max(size, 0))
        if self._pending.maxlen != max(size, 0):
            with self._flush_lock:
                self._pending = collections.deque(self._pending, maxlen=max(size, 0))

    def served(self, **request: Any) -> None:
        """Keep one served request (the keyword arguments of ``entry``), the cheapest way this journal can."""
        if self._size <= 0:
            return
        if not self.bodies:
            request["request_body"] = request["response_body"] = None
        if request.get("at") is None:
            request["at"] = self._now()
        if self._local is not None:
            self._local.append(request)
            return
        self._pending.append((_KEYS.next(), request))  # keyed now: entries sort by arrival, not by flush
        if self._flusher is None:
            try:
                self._start_flusher()
            except Exception:  # a database that cannot serve now never fails a request: the next one starts it
                return

    def _start_flusher(self) -> None:
        """Say this worker journals (before its first answer goes out, so a reader waits for it), then flush."""
        with self._lock:
            if self._flusher is None:
                current = self._shared.get(SYNC, "generation", 0.0)
                self._answered = int(current) if isinstance(current, int | float) else 0
                self._heard = time.time()
                answer = {"answered": self._answered, "seen": self._heard}
                self._shared.set(SYNC, f"worker:{self._worker}", answer, FAR_FUTURE)
                self._flusher = threading.Thread(target=self._flush_forever, name="journal-flush", daemon=True)
                self._flusher.start()

    def _flush_forever(self) -> None:
        """Answer readers; after a second without a new request, write what is queued and end (or at a dead store).

        Ending, the worker takes its name off the list readers wait for (its requests are in the store
        by then, where a reader finds them); its next request starts a new thread and puts it back. So
        an idle worker wakes for nothing and a closed store ends the thread.
        """
        failures = 0
        busy = time.monotonic()
        newest: str | None = None  # the key of the newest queued request seen: a new one means busy
        while True:
            time.sleep(POLL_SECONDS)
            moment = time.monotonic()
            latest = self._newest_queued()
            if latest is not None and latest != newest:
                newest, busy = latest, moment
            try:
                self._flush_and_answer()
                if moment - busy >= IDLE_SECONDS:
                    self.flush()
                failures = 0
            except Exception:
                failures += 1
                if failures == 1:
                    log.exception("the journal could not be written; retrying")
            if failures >= FAILURES_TO_STOP or (failures == 0 and moment - busy >= IDLE_SECONDS):
                with self._lock:
                    if self._pending and failures < FAILURES_TO_STOP:
                        continue  # a request arrived meanwhile: keep going
                    self._pending.clear()
                    self._flusher = None
                    with contextlib.suppress(Exception):  # a closed store: nothing to take the name off
                        self._shared.discard(SYNC, f"worker:{self._worker}")
                if self._pending and failures < FAILURES_TO_STOP:
                    self._start_flusher()  # a request that saw this thread still running as it ended
                return

    def _newest_queued(self) -> str | None:
        """The key of the newest request waiting to be written, if any."""
        try:
            return self._pending[-1][0]
        except IndexError:
            return None

    def _flush_and_answer(self) -> None:
        """Flush when a reader asked, and answer it (or say this worker is alive, now and then).

        Where the store has change signals (workers on one file), the generation is read only when its
        signal moved or a heartbeat is due: a memory read every look instead of a query (50 a second).
        """
        signals = self._shared.signals
        token = signals.token(SYNC) if signals is not None else None  # read before the generation it vouches for
        if token is not None and token == self._sync_token and time.time() - self._heard < HEARTBEAT_SECONDS:
            return
        wanted = self._shared.get(SYNC, "generation", 0.0)
        generation = int(wanted) if isinstance(wanted, int | float) else 0
        asked = generation != self._answered
        if asked:
            self.flush()
        moment = time.time()
        if asked or moment - self._heard >= HEARTBEAT_SECONDS:
            self._shared.set(SYNC, f"worker:{self._worker}", {"answered": generation, "seen": moment}, FAR_FUTURE)
            self._answered, self._heard = generation, moment
        self._sync_token = token

    def flush(self) -> None:
        """Write this process's queued requests to the shared journal, in one transaction."""
        with self._flush_lock:
            batch: list[tuple[str, Any]] = []
            while self._pending:
                key, kept = self._pending.popleft()
                batch.append((key, build_entry(**kept, bodies=self.bodies).as_dict()))
            self._write(batch)

    def _write(self, batch: list[tuple[str, Any]]) -> None:
        """Store entries in one transaction, trimming the shared journal after every ``size // 10`` of them."""
        if not batch:
            return
        self._shared.set_many(NAMESPACE, batch, FAR_FUTURE)
        with self._lock:
            self._since_trim += len(batch)
            due = self._since_trim >= max(1, self._size // 10)
            if due:
                self._since_trim = 0
        if due:
            self._shared.trim(NAMESPACE, max(self._size, 0))

    def _synchronise(self) -> None:
        """Before a read or a clear: have every live worker write what it queued, and wait for it."""
        if self._local is not None:
            return
        generation = self._shared.increment(SYNC, "generation", FAR_FUTURE, 0.0)
        if self._shared.signals is not None:
            self._shared.signals.bump(SYNC)  # the other workers look at the generation again
        self.flush()
        me = f"worker:{self._worker}"
        deadline = time.monotonic() + SYNC_WAIT_SECONDS
        while time.monotonic() < deadline:
            moment = time.time()
            behind = False
            for key, answer in self._shared.items(SYNC, 0.0):
                if not key.startswith("worker:") or key == me or not isinstance(answer, dict):
                    continue
                seen = float(answer.get("seen", 0))
                if moment - seen > 60 * ALIVE_SECONDS:
                    self._shared.discard(SYNC, key)  # a worker long gone
                elif moment - seen <= ALIVE_SECONDS and int(answer.get("answered", 0)) < generation:
                    behind = True
            if not behind:
                return
            time.sleep(POLL_SECONDS / 2)

    def entry(self, *, at: float | None = None, **request: Any) -> JournalEntry:
        """``build_entry`` of a request (its keyword arguments) with this journal's clock and ``bodies`` setting."""
        return build_entry(at=self._now() if at is None else at, bodies=self.bodies, **request)

    def record(self, entry: JournalEntry) -> None:
        """Add an entry now (no-op when ``size`` is 0), without the bodies unless ``bodies`` is on."""
        if self.size <= 0:
            return
        if not self.bodies and (entry.request_body is not None or entry.response_body is not None):
            entry = replace(
                entry, request_body=None, request_body_encoding=None, response_body=None, response_body_encoding=None
            )
        self._write([(_KEYS.next(), entry.as_dict())])

    def trim(self) -> int:
        """Drop all but the newest ``size`` entries now (after ``size`` shrank); return how many went."""
        with self._lock:
            self._since_trim = 0
        return self._shared.trim(NAMESPACE, max(self.size, 0))

    def entries(
        self,
        *,
        path: str | None = None,
        method: str | None = None,
        status: str | None = None,
        request_id: str | None = None,
        key: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The newest ``size`` entries that pass every given filter, newest first, at most ``limit``."""
        matches = _matcher(path, method, status, request_id, key)
        if limit is not None and limit < 0:
            raise ValidationFailed({"limit": ["Give a limit of 0 or more entries."]})
        if self.size <= 0 or limit == 0:
            return []
        if self._local is not None:
            bodies = self.bodies
            newest = [("", build_entry(**kept, bodies=bodies).as_dict()) for kept in list(self._local)]
        else:
            self._synchronise()
            newest = self._shared.items(NAMESPACE, self._now())[-self.size :]
        found: list[dict[str, Any]] = []
        for _key, value in reversed(newest):
            if isinstance(value, dict) and matches(value):
                shown = dict(value)
                if isinstance(shown.get("at"), int | float):
                    shown["at"] = rfc3339(shown["at"])
                found.append(shown)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def clear(self) -> None:
        """Forget every entry (of every worker)."""
        self._synchronise()
        with self._lock:
            self._since_trim = 0
        if self._local is not None:
            self._local.clear()
        self._shared.clear(NAMESPACE)


def _matcher(
    path: str | None, method: str | None, status: str | None, request_id: str | None, key: str | None
) -> Callable[[dict[str, Any]], bool]:
    """One predicate for the given filters (checked once, before any entry is read)."""
    checks: list[Callable[[dict[str, Any]], bool]] = []
    if path is not None:
        pattern = re.compile(fnmatch.translate(path))
        checks.append(lambda entry: bool(pattern.match(str(entry.get("path", "")))))
    if method is not None:
        wanted = method.upper()
        checks.append(lambda entry: str(entry.get("method", "")).upper() == wanted)
    if status is not None:
        text = status.strip()
        if not _STATUS.fullmatch(text):
            raise ValidationFailed({"status": ["Give a status code such as 404 or a class such as 4xx."]})
        if text.lower().endswith("xx"):
            low = int(text[0]) * 100
            checks.append(lambda entry: low <= int(entry.get("status") or 0) < low + 100)
        else:
            code = int(text)
            checks.append(lambda entry: entry.get("status") == code)
    if request_id is not None:
        checks.append(lambda entry: entry.get("request_id") == request_id)
    if key is not None:
        checks.append(lambda entry: entry.get("key_name") == key)
    return lambda entry: all(check(entry) for check in checks)
