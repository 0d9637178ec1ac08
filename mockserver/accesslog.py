"""The access log: one line per request on standard error, as text for people or JSON for pipelines.

A line names the time, method, path (never the query, which may carry a key), status, latency,
the calling key's name (never the key), the request id, and why a rejected request was refused.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from mockserver.jsonio import dumps
from mockserver.settings import LOG_FORMATS


@dataclass(frozen=True)
class AccessEntry:
    """What one request did."""

    method: str
    path: str
    status: int
    latency_ms: float
    request_id: str
    key_name: str | None = None
    message: str | None = None
    errors: Mapping[str, Sequence[str]] | None = None


class AccessLog:
    """Writes entries to a stream, whole lines at a time, from any thread."""

    def __init__(self, stream: TextIO, log_format: str = "text") -> None:
        if log_format not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
        self._stream = stream
        self._json = log_format == "json"
        self._lock = threading.Lock()

    def write(self, entry: AccessEntry) -> None:
        """Log one request."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = self._as_json(now, entry) if self._json else self._as_text(now, entry)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    @staticmethod
    def _as_text(now: str, entry: AccessEntry) -> str:
        line = (
            f"{now} {entry.method} {_token(entry.path)} {entry.status} {entry.latency_ms:.1f}ms "
            f"key={_token(entry.key_name or '-')} request_id={entry.request_id}"
        )
        if entry.message:
            line += f" message={dumps(entry.message).decode()}"
        if entry.errors:
            line += f" errors={dumps(dict(entry.errors)).decode()}"
        return line

    @staticmethod
    def _as_json(now: str, entry: AccessEntry) -> str:
        record: dict[str, object] = {
            "time": now,
            "method": entry.method,
            "path": entry.path,
            "status": entry.status,
            "latency_ms": round(entry.latency_ms, 2),
            "key": entry.key_name,
            "request_id": entry.request_id,
        }
        if entry.message:
            record["message"] = entry.message
        if entry.errors:
            record["errors"] = dict(entry.errors)
        return dumps(record).decode()


def _token(text: str) -> str:
    """A field of a text line: as is when it is one printable word, else quoted, so no line can be forged."""
    return text if text.isprintable() and " " not in text and '"' not in text else dumps(text).decode()
