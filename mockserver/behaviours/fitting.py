"""Documented examples fitted to their schema: each part the schema refuses is replaced by a fake value of its own.

Specs publish examples that break their own schemas (Twilio's relative ``first_page_uri`` under
``format: uri``, ``""`` for a nullable URL); served as they are, the sandbox would answer bodies its own
contract refuses. The parts that fit are kept word for word.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mockserver.spec.compiled import compiled

MakeValue = Callable[[str, Mapping[str, Any]], Any]  # (property name, schema) -> a fake value of that schema


class ExampleFitter:
    """Fits values to schemas, compiling each schema it checks once."""

    def __init__(self, make: MakeValue) -> None:
        self._make = make
        self._validators: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (schema, validator or None)

    def fitted(self, value: Any, schema: Any, name: str = "response") -> Any:
        """``value`` if ``schema`` accepts it; else its properties or items fitted one by one; else a fake value."""
        if not isinstance(schema, Mapping) or self._accepts(schema, value):
            return value
        properties = schema.get("properties") or ({} if schema.get("required") else None)
        if isinstance(value, dict) and isinstance(properties, Mapping):
            fitted = {
                key: self.fitted(item, properties[key], key) if isinstance(properties.get(key), Mapping) else item
                for key, item in value.items()
            }
            fitted.update(self.missing(fitted, schema))
            if self._accepts(schema, fitted):
                return fitted
        elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
            items = [self.fitted(item, schema["items"], name) for item in value]
            if self._accepts(schema, items):
                return items
        return self._make(name, schema)

    def missing(self, value: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
        """A value for each property ``schema`` requires and ``value`` lacks (described or not: any value will do)."""
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        made: dict[str, Any] = {}
        for key in schema.get("required") or ():
            if isinstance(key, str) and key not in value:
                sub = properties.get(key, extra if isinstance(extra, Mapping) else {})
                if isinstance(sub, Mapping):
                    made[key] = self._make(key, sub)
        return made

    def _accepts(self, schema: Mapping[str, Any], value: Any) -> bool:
        hit = self._validators.get(id(schema))
        if hit is None or hit[0] is not schema:  # keywords jsonschema-rs refuses are left out, as requests' checks do
            try:
                validator: Any = compiled(dict(schema), {}).validator
            except ValueError:  # no validator at all (a reference jsonschema-rs cannot follow): nothing to fit to
                validator = None
            hit = self._validators[id(schema)] = (schema, validator)
        if hit[1] is None:
            return True
        try:
            return bool(hit[1].is_valid(value))
        except (ValueError, OverflowError):
            return False
