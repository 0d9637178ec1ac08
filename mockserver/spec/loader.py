"""Read an OpenAPI 3.0/3.1 document from disk, check it, and normalise its schemas to 3.1."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecError(Exception):
    """The document cannot be served: unreadable, invalid, or not OpenAPI 3."""


_LOADED: dict[tuple[str, int, bool], dict[str, Any]] = {}


def load_spec(path: Path, *, check: bool = True) -> dict[str, Any]:
    """Load and (optionally) validate a spec, returning a 3.1-flavoured plain dict (a private copy)."""
    try:
        key = (str(path.resolve()), path.stat().st_mtime_ns, check)
    except OSError as exc:
        raise SpecError(f"cannot read spec {path}: {exc}") from exc
    if key not in _LOADED:
        _LOADED[key] = _load(path, check=check)
    return copy.deepcopy(_LOADED[key])


def _load(path: Path, *, check: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec {path}: {exc}") from exc
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_YamlLoader)  # noqa: S506
    except (ValueError, yaml.YAMLError) as exc:
        raise SpecError(f"spec {path} is not valid YAML/JSON: {exc}") from exc
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
        raise SpecError(f"spec {path} is not an OpenAPI 3 document")
    if check:
        try:
            OpenAPI.from_dict(document)  # openapi-core checks the whole document against the OpenAPI schema
        except OpenAPIValidationError as exc:
            raise SpecError(f"spec {path} is invalid: {exc.message}") from exc
    if str(document["openapi"]).startswith("3.0"):
        _normalise_30_schemas(document)
    return document


_SCHEMA_KEYS = ("schema", "schemas", "properties", "items", "additionalProperties", "allOf", "anyOf", "oneOf")


def _normalise_30_schemas(node: Any, in_schema: bool = False) -> None:
    """Rewrite OpenAPI 3.0 schema idioms (nullable, boolean exclusive bounds) as JSON Schema 2020-12."""
    if isinstance(node, list):
        for item in node:
            _normalise_30_schemas(item, in_schema)
        return
    if not isinstance(node, dict):
        return
    if in_schema:
        if node.pop("nullable", False) is True:
            kind = node.get("type")
            if isinstance(kind, str):
                node["type"] = [kind, "null"]
            elif "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if node.get(flag) is True and bound in node:
                node[flag] = node.pop(bound)
            elif node.get(flag) is False:
                node.pop(flag)
    for key, value in node.items():
        if key in ("example", "examples", "default", "enum", "const"):
            continue
        _normalise_30_schemas(value, in_schema or key in _SCHEMA_KEYS or key == "not")
