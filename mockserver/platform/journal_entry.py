"""One journal entry: what a served request leaves behind, with credentials redacted and bodies bounded.

Kept apart from the journal itself (where entries are kept and how workers share them) so the
rules for what an entry may hold read in one place.
"""

from __future__ import annotations

import base64
import codecs
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

BODY_LIMIT = 64 * 1024
REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
SECRET_PARTS = ("key", "token", "secret", "auth")
NOT_SECRET = frozenset({"idempotency-key"})

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


def redact_query(query: str) -> str:
    """A query string with credential-like parameters (``api_key=``, ``access_token=``) read ``[redacted]``."""
    if not any(part in query.lower() for part in SECRET_PARTS):
        return query
    pairs = []
    for pair in query.split("&"):
        name, equals, _value = pair.partition("=")
        pairs.append(f"{name}={REDACTED}" if equals and _is_secret(unquote_plus(name).lower()) else pair)
    return "&".join(pairs)


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
        query=redact_query(query),
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
