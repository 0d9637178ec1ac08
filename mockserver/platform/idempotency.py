"""Idempotency keys: a retried POST/PUT/PATCH gets the stored response instead of running twice.

Per company and key: the same request (method, path, query, content type and body bytes) within
the window is replayed with ``Idempotent-Replayed: true``; a different request with the same key is
422; a retry that arrives while the first is still running is 409. A replay is the original
response, down to its ``X-Request-Id``, so its body and headers agree.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

from mockserver.behaviours.context import Reply
from mockserver.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
WINDOW_SECONDS = 24 * 3600


@dataclass
class _Entry:
    fingerprint: str
    started: float
    reply: Reply | None = None


@dataclass(frozen=True)
class Claim:
    """The right to run a request under a key; hand it back to ``finish`` with the reply."""

    scope: tuple[int, str]
    fingerprint: str


@dataclass
class IdempotencyStore:
    """Remembered responses by (company, key), expiring after ``window_seconds``."""

    window_seconds: int = WINDOW_SECONDS
    _entries: dict[tuple[int, str], _Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def fingerprint(method: str, path: str, query: bytes, content_type: str, body: bytes) -> str:
        """What makes two requests the same request."""
        digest = hashlib.sha256()
        for part in (method.encode(), path.encode(), query, content_type.encode(), body):
            digest.update(len(part).to_bytes(8, "big") + part)
        return digest.hexdigest()

    def begin(self, company_id: int, key: str, fingerprint: str) -> Claim | Reply:
        """Claim a key for a new request, or return the stored reply to replay (409/422 when not allowed)."""
        now = time.time()
        scope = (company_id, key)
        with self._lock:
            entry = self._entries.get(scope)
            if entry is not None and now - entry.started > self.window_seconds:
                entry = None
            if entry is None:
                self._entries[scope] = _Entry(fingerprint, now)
                return Claim(scope, fingerprint)
            if entry.fingerprint != fingerprint:
                raise ValidationFailed(
                    {HEADER: ["This key was already used with a different request; use a new key."]},
                    "Idempotency-Key reused with a different request.",
                )
            if entry.reply is None:
                raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
            stored = entry.reply
        return Reply(stored.status, stored.body, {**stored.headers, REPLAYED: "true"}, stored.content_type, stored.raw)

    def finish(self, claim: Claim, reply: Reply, request_id: str) -> None:
        """Store the reply (with the request id it was sent under) for replays, or release the key."""
        with self._lock:
            if reply.status == 429 or reply.status >= 500:
                self._entries.pop(claim.scope, None)
            elif claim.scope in self._entries:
                stored = Reply(
                    reply.status,
                    reply.body,
                    {**reply.headers, "X-Request-Id": request_id},
                    reply.content_type,
                    reply.raw,
                )
                self._entries[claim.scope].reply = stored

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._entries.clear()
