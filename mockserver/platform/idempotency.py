"""Idempotency keys: a retried POST/PUT/PATCH gets the stored response instead of running twice.

Per company and key: the same request (method, path, query, content type and body bytes) within
the window is replayed with ``Idempotent-Replayed: true``; a different request with the same key is
422; a retry that arrives while the first is still running is 409. A replay is the original
response, down to its ``X-Request-Id``, so its body and headers agree. Keys live in the store's
ephemera, so every worker process sees them, and expired keys are purged.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mockserver.behaviours.context import Reply
from mockserver.errors import Conflict, ValidationFailed
from mockserver.spec import Parameter
from mockserver.store import Ephemera
from mockserver.store.ephemera import MemoryEphemera

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
WINDOW_SECONDS = 24 * 3600
NAMESPACE = "idempotency"


def key_header(parameters: Iterable[Parameter]) -> str | None:
    """The header an operation takes its idempotency key in, in the spec's spelling (``X-Idempotency-Key``)."""
    for parameter in parameters:
        squashed = "".join(ch for ch in parameter.name.lower() if ch.isalnum())
        if parameter.location == "header" and squashed.endswith("idempotencykey"):
            return parameter.name
    return None


@dataclass(frozen=True)
class Claim:
    """The right to run a request under a key; hand it back to ``finish`` with the reply."""

    key: str
    fingerprint: str
    expires: float


@dataclass
class IdempotencyStore:
    """Remembered responses by (company, key), expiring after ``window_seconds``."""

    window_seconds: int = WINDOW_SECONDS
    shared: Ephemera = field(default_factory=MemoryEphemera)
    now: Callable[[], float] = time.time

    @staticmethod
    def fingerprint(method: str, path: str, query: bytes, content_type: str, body: bytes) -> str:
        """What makes two requests the same request."""
        digest = hashlib.sha256()
        for part in (method.encode(), path.encode(), query, content_type.encode(), body):
            digest.update(len(part).to_bytes(8, "big") + part)
        return digest.hexdigest()

    def begin(self, company_id: int, key: str, fingerprint: str, header: str = HEADER) -> Claim | Reply:
        """Claim a key for a new request, or return the stored reply to replay (409/422 when not allowed)."""
        now = self.now()
        name = f"{company_id}:{_digest(key)}"
        expires = now + self.window_seconds
        entry = self.shared.claim(NAMESPACE, name, {"fingerprint": fingerprint, "reply": None}, expires, now)
        if entry is None:
            return Claim(name, fingerprint, expires)
        if entry.get("fingerprint") != fingerprint:
            raise ValidationFailed(
                {header: ["This key was already used with a different request; use a new key."]},
                f"{header} reused with a different request.",
            )
        stored = entry.get("reply")
        if stored is None:
            raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
        reply = _decode_reply(stored)
        reply.headers = {**reply.headers, REPLAYED: "true"}
        return reply

    def finish(self, claim: Claim, reply: Reply, request_id: str) -> None:
        """Store the reply (with the request id it was sent under) for replays, or release the key."""
        if reply.status == 429 or reply.status >= 500:
            self.shared.discard(NAMESPACE, claim.key)
            return
        stored = Reply(
            reply.status, reply.body, {**reply.headers, "X-Request-Id": request_id}, reply.content_type, reply.raw
        )
        entry = {"fingerprint": claim.fingerprint, "reply": _encode_reply(stored)}
        self.shared.set(NAMESPACE, claim.key, entry, claim.expires)

    def clear(self, company_id: int | None = None) -> None:
        """Forget every key, or one company's."""
        if company_id is None:
            self.shared.clear(NAMESPACE)
            return
        prefix = f"{company_id}:"
        for key, _value in self.shared.items(NAMESPACE, self.now()):
            if key.startswith(prefix):
                self.shared.discard(NAMESPACE, key)


def _digest(key: str) -> str:
    """A key as the shared store keeps it: of one size, so any key a client sends fits (a btree entry, 2,704 bytes)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _encode_reply(reply: Reply) -> dict[str, Any]:
    raw = base64.b64encode(reply.raw).decode() if reply.raw is not None else None
    return {
        "status": reply.status,
        "body": reply.body,
        "headers": reply.headers,
        "content_type": reply.content_type,
        "raw": raw,
    }


def _decode_reply(stored: dict[str, Any]) -> Reply:
    raw = stored.get("raw")
    return Reply(
        int(stored["status"]),
        stored.get("body"),
        dict(stored.get("headers") or {}),
        str(stored.get("content_type") or "application/json"),
        base64.b64decode(raw) if raw is not None else None,
    )
