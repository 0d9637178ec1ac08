"""JSON encoding in one place: orjson for speed, the standard library for integers beyond 64 bits."""

from __future__ import annotations

import json
from typing import Any

import orjson


def embedded(text: str | bytes) -> Any:
    """JSON text to place as it is inside a value ``dumps`` encodes (a stored record sent without decoding it)."""
    return orjson.Fragment(text)


def dumps(value: Any) -> bytes:
    """Encode a JSON-ready value to UTF-8 bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def loads(raw: str | bytes) -> Any:
    """Decode JSON text (the standard library for integers beyond 64 bits)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
