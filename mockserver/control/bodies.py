"""Reading control requests: JSON bodies checked against control.yaml, and ISO 8601 durations."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson
from flask import request

from mockserver.errors import BadRequest, ValidationFailed
from mockserver.validation import compile_schema

_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


class Bodies:
    """Request-body validators compiled from control.yaml, one per operation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._validators: dict[str, Any] = {}
        components = document.get("components") or {}
        for item in (document.get("paths") or {}).values():
            for method, operation in item.items():
                if method in ("get", "put", "post", "patch", "delete"):
                    content = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json")
                    if content:
                        wrapped = {**content["schema"], "components": components}
                        self._validators[operation["operationId"]] = compile_schema(wrapped)

    def read(self, operation_id: str, *, required: bool) -> dict[str, Any]:
        """The request's JSON body checked against the operation's schema ({} when optional and absent)."""
        raw = request.get_data(cache=False)
        if not raw.strip():
            if required:
                raise BadRequest("This request needs a JSON body.")
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"The body is not valid JSON: {exc}.") from None
        errors: dict[str, list[str]] = {}
        for error in self._validators[operation_id].iter_errors(body):
            where = ".".join(str(part) for part in error.instance_path) or "body"
            errors.setdefault(where, []).append(error.message)
        if errors:
            raise ValidationFailed(errors)
        if not isinstance(body, dict):
            raise ValidationFailed({"body": ["must be a JSON object"]})
        return body


def parse_duration(value: Any) -> dt.timedelta:
    """``P1W2DT3H4M5S`` (weeks to seconds; months and years have no fixed length) or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=float(value))
    match = _DURATION.fullmatch(str(value))
    if match is None or str(value) in ("P", "PT"):
        raise ValidationFailed({"by": [f"{value!r} is not a duration such as P30D, PT1H30M or 3600."]})
    weeks, days, hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    return dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
