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
- Entries never expire (``FAR_FUTURE``); the journal is bounded by ``size`` instead. Each process
  trims the shared namespace to ``size`` after every ``max(1, size // 10)`` entries it recorded,
  so with W workers at most about ``size + W * size / 10`` entries are held, and ``entries()``
  looks only at the newest ``size``, so a read never shows more than ``size`` whether or not a
  trim ran yet. ``size == 0`` turns recording off (older entries stay until ``clear`` or a trim).
  A journal in process memory (``MemoryEphemera``) also keeps at most its per-namespace cap.
- ``size`` and ``bodies`` are plain attributes of this process's ``Journal``: whoever changes them
  at runtime changes them in every worker. ``record`` drops bodies unless ``bodies`` is on.
- Bodies (when stored) are cut at 64 KiB of bytes; a cut body ends with
  ``…[truncated: N bytes in all]``. A body that is not UTF-8 is stored as base64 (of its first
  64 KiB) and its ``*_body_encoding`` says ``base64``; otherwise ``utf-8`` (None: no body stored).
- Request headers hold no secrets: Authorization, Cookie, Proxy-Authorization, X-Api-Key and any
  header whose name contains ``key``, ``token``, ``secret`` or ``auth`` read ``[redacted]``, except
  Idempotency-Key, which is no secret and is what a reader of retries looks for. Repeated headers
  are joined with ``, `` under the first spelling of the name.
- Filters of ``entries``: ``path`` is a case-sensitive glob (``fnmatch``; ``*`` also matches
  ``/``), ``method`` ignores case, ``status`` is a code (``404``) or a class (``4xx``),
  ``request_id`` and ``key`` (the key's name) are exact; ``limit`` caps the newest-first result.
  A filter that cannot mean anything (``status=4x``, ``limit=-1``) raises ``ValidationFailed``.
- ``entries`` returns fresh dicts (JSON-ready, newest first): a caller may change them freely.
"""

from __future__ import annotations

import base64
import codecs
import collections
import fnmatch
import functools
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from mockserver.errors import ValidationFailed
from mockserver.store import Ephemera

NAMESPACE = "journal"
FAR_FUTURE = 1e18  # epoch seconds (year ~3e10): later than any sandbox clock
BODY_LIMIT = 64 * 1024
REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
SECRET_PARTS = ("key", "token", "secret", "auth")
NOT_SECRET = frozenset({"idempotency-key"})
_STATUS = re.compile(r"[1-5](?:\d\d|xx)", re.IGNORECASE)

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True)
class JournalEntry:
    """One served request as the journal keeps it (see the module docstring for each field's rules)."""

    at: float
    method: str
    path: str
    query: str
    status: int
    latency_ms: float
    request_id: str
    key_name: str | None = None
    operation_id: str | None = None
    message: str | None = None
    errors: dict[str, list[str]] | None = None
    request_headers: dict[str, str] | None = None
    request_body: str | None = None
    request_body_encoding: str | None = None
    response_body: str | None = None
    response_body_encoding: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data (every field, None included, so each entry has one shape)."""
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(field.name for field in fields(JournalEntry))


def rfc3339(epoch: float) -> str:
    """Epoch seconds as RFC 3339 UTC with milliseconds (``2026-11-30T10:00:00.123Z``), rounded down."""
    millis = math.floor(epoch * 1000)
    moment = datetime.fromtimestamp(millis // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis % 1000:03d}Z"


@functools.lru_cache(maxsize=1024)
def _is_secret(lower: str) -> bool:
    """Whether a header (by its lower-case name) may carry a credential (asked once per name)."""
    return lower not in NOT_SECRET and (lower in SECRET_HEADERS or any(part in lower for part in SECRET_PARTS))


def redact(headers: Headers) -> dict[str, str]:
    """Request headers with every credential-like value replaced by ``[redacted]``."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    kept: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        lower = name.lower()
        secret = _is_secret(lower)
        shown = REDACTED if secret else str(value)
        first = spelling.setdefault(lower, name)
        kept[first] = shown if first not in kept or secret else f"{kept[first]}, {shown}"
    return kept


def body_text(raw: bytes | None) -> tuple[str | None, str | None]:
    """A body as (text, encoding): UTF-8 text or base64, cut at 64 KiB with a marker; (None, None) for none."""
    if raw is None:
        return None, None
    cut = raw[:BODY_LIMIT]
    truncated = len(raw) > BODY_LIMIT
    try:  # a cut may split a character: the incremental decoder leaves its first bytes out instead of failing
        text, encoding = codecs.getincrementaldecoder("utf-8")().decode(cut, final=not truncated), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(cut).decode("ascii"), "base64"
    if truncated:
        text += f"…[truncated: {len(raw)} bytes in all]"
    return text, encoding


def build_entry(
    *,
    at: float,
    method: str,
    path: str,
    status: int,
    latency_ms: float,
    request_id: str,
    query: str = "",
    key_name: str | None = None,
    operation_id: str | None = None,
    message: str | None = None,
    errors: Mapping[str, Iterable[str]] | None = None,
    request_headers: Headers = (),
    request_body: bytes | None = None,
    response_body: bytes | None = None,
    bodies: bool = False,
) -> JournalEntry:
    """An entry from plain values: ``at`` in epoch seconds, headers redacted, bodies kept only if ``bodies``."""
    request_text, request_encoding = body_text(request_body) if bodies else (None, None)
    response_text, response_encoding = body_text(response_body) if bodies else (None, None)
    return JournalEntry(
        at=at,
        method=method.upper(),
        path=path,
        query=query,
        status=int(status),
        latency_ms=round(float(latency_ms), 1),
        request_id=request_id,
        key_name=key_name,
        operation_id=operation_id,
        message=message,
        errors={name: list(messages) for name, messages in errors.items()} if errors else None,
        request_headers=redact(request_headers),
        request_body=request_text,
        request_body_encoding=request_encoding,
        response_body=response_text,
        response_body_encoding=response_encoding,
    )


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

    @property
    def size(self) -> int:
        """How many requests are kept (0: none)."""
        return self._size

    @size.setter
    def size(self, size: int) -> None:
        self._size = size
        if self._local is not None and self._local.maxlen != max(size, 0):
            self._local = collections.deque(self._local, maxlen=max(size, 0))

    def served(self, **request: Any) -> None:
        """Keep one served request (the keyword arguments of ``entry``), the cheapest way this journal can."""
        if self._size <= 0:
            return
        local = self._local
        if local is None:
            self.record(self.entry(**request))
            return
        if not self.bodies:
            request["request_body"] = request["response_body"] = None
        if request.get("at") is None:
            request["at"] = self._now()
        local.append(request)

    def entry(
        self,
        *,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        request_id: str,
        query: str = "",
        key_name: str | None = None,
        operation_id: str | None = None,
        message: str | None = None,
        errors: Mapping[str, Iterable[str]] | None = None,
        request_headers: Headers = (),
        request_body: bytes | None = None,
        response_body: bytes | None = None,
        at: float | None = None,
    ) -> JournalEntry:
        """``build_entry`` with this journal's clock for ``at`` (unless given) and its ``bodies`` setting."""
        return build_entry(
            at=self._now() if at is None else at,
            method=method,
            path=path,
            status=status,
            latency_ms=latency_ms,
            request_id=request_id,
            query=query,
            key_name=key_name,
            operation_id=operation_id,
            message=message,
            errors=errors,
            request_headers=request_headers,
            request_body=request_body,
            response_body=response_body,
            bodies=self.bodies,
        )

    def record(self, entry: JournalEntry) -> None:
        """Add an entry (no-op when ``size`` is 0), trimming the shared journal every ``size // 10`` records."""
        size = self.size
        if size <= 0:
            return
        if not self.bodies and (entry.request_body is not None or entry.response_body is not None):
            entry = replace(
                entry, request_body=None, request_body_encoding=None, response_body=None, response_body_encoding=None
            )
        with self._lock:
            self._since_trim += 1
            due = self._since_trim >= max(1, size // 10)
            if due:
                self._since_trim = 0
        self._shared.set(NAMESPACE, _KEYS.next(), entry.as_dict(), FAR_FUTURE)
        if due:
            self._shared.trim(NAMESPACE, size)

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
