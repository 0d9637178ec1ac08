"""JSON encoding in one place: orjson for speed, the standard library for integers beyond 64 bits."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Encode a JSON-ready value to UTF-8 bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
