"""Bring a spec's own values (examples, defaults) to the types its schema declares before they are served.

Real specs often write values in the wrong JSON type: ``default: "false"`` on a boolean, money as
``"50.00"`` in an example of a number, ``ReceiptNumber: 1`` for a string. Served verbatim they break the
very schema that documents them; a reader of the spec means ``false``, ``50.0`` and ``"1"``. Values that
already fit, or that no lossless conversion makes fit, are returned unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from mockserver.spec.resolve import admitted_types

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}


def conform(value: Any, schema: Any) -> Any:
    """``value`` with every scalar written in another type than its schema's converted, where that loses nothing."""
    if not isinstance(schema, Mapping):
        return value
    if isinstance(value, dict):
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return value
        return {name: conform(item, properties.get(name)) for name, item in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [conform(item, items) for item in value] if isinstance(items, Mapping) else value
    return conform_scalar(value, admitted_types(schema))


def conform_scalar(value: Any, types: frozenset[str]) -> Any:
    """``conform`` for a scalar whose schema admits ``types`` (a caller that fills one field often knows them)."""
    kind = _json_type(value)
    if not types or kind in types or (kind == "integer" and "number" in types):
        return value
    return _converted(value, types)


def _json_type(value: Any) -> str:
    """The JSON Schema type of a parsed JSON scalar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    return "string" if isinstance(value, str) else "object"


def _converted(value: Any, types: frozenset[str]) -> Any:
    """The scalar in the first declared type it converts to without loss, else itself."""
    if isinstance(value, str):
        text = value.strip()
        if "boolean" in types and text.lower() in _BOOLEANS:
            return _BOOLEANS[text.lower()]
        if "integer" in types and _INTEGER.fullmatch(text):
            return int(text)
        if "number" in types and _NUMBER.fullmatch(text):
            number = float(text)
            return number if math.isfinite(number) else value
        return value
    if "string" in types and isinstance(value, bool):
        return "true" if value else "false"
    if "string" in types and isinstance(value, int | float):
        return str(value)
    return value
