"""Read an OpenAPI 3.0/3.1 document from disk, check it, and normalise its schemas to 3.1.

YAML is read with YAML 1.2 semantics (see ``yaml12``). Every problem the OpenAPI schema finds is named
by its location (a JSON pointer); a lenient load serves the document anyway and keeps the problems for
the caller to show, as Prism does. Swagger 2.0 is refused with the command that converts it.

Checking the document is most of a start-up's work on a seeded database (importing the validator
0.2-0.3 s, running it 0.37 s, for this project's spec): a load may be told the digest (``spec_digest``:
the file's bytes, the validator's and this package's versions) of a document that checked clean
before, and when the file still has it, the check is not repeated. The validator is imported only
when a check runs.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.metadata
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mockserver import __version__
from mockserver.spec.yaml12 import load_yaml

_MAX_PROBLEMS = 100  # a spec broken everywhere lists this many, then a count
_MAX_MESSAGE = 200


def _located_defaults(spec_validator: Any) -> Any:
    """The library's spec validator whose default-value errors say where the default is.

    It checks each ``default`` against its schema with a fresh validator, so those errors come
    back with no path (``invalid at /``); this one puts the schema's location in front of them.
    """
    checks_defaults = spec_validator.keyword_validators["default"]

    class LocatedDefaults(checks_defaults):  # type: ignore[misc,valid-type]
        def __call__(self, schema: Any, value: Any) -> Iterator[Any]:
            for error in super().__call__(schema, value):
                error.path.extendleft(reversed((*schema.parts, "default")))
                yield error

    keywords = {**spec_validator.keyword_validators, "default": LocatedDefaults}
    return type(spec_validator.__name__, (spec_validator,), {"keyword_validators": keywords})


@functools.cache
def _validators() -> dict[str, Any]:
    """The spec validator of each OpenAPI version (imported at the first check: a fifth of a second)."""
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator, OpenAPIV32SpecValidator

    return {
        version: _located_defaults(validator)
        for version, validator in (
            ("3.0", OpenAPIV30SpecValidator),
            ("3.1", OpenAPIV31SpecValidator),
            ("3.2", OpenAPIV32SpecValidator),
        )
    }


@functools.cache
def _checker_version() -> str:
    """What a check's outcome depends on besides the document: the validator's version and this package's."""
    try:
        checker = importlib.metadata.version("openapi-spec-validator")
    except importlib.metadata.PackageNotFoundError:  # installed without its metadata: no digest can vouch for a check
        checker = f"unknown, {id(_checker_version)}"
    return f"openapi-spec-validator {checker}, mockserver {__version__}"


class SpecError(Exception):
    """The document cannot be served: unreadable, invalid, or not OpenAPI 3."""


@dataclass(frozen=True)
class SpecProblem:
    """One place where the document breaks the OpenAPI schema."""

    location: str  # a JSON pointer into the document, "" for its root
    message: str

    def __str__(self) -> str:
        """``at /paths/~1pets/get/responses: message``."""
        return f"at {self.location or '/'}: {self.message}"


@dataclass(frozen=True)
class _Loaded:
    document: dict[str, Any]
    problems: tuple[SpecProblem, ...]
    digest: str  # the file's ``spec_digest`` as read


_LOADED: dict[tuple[str, int, bool], _Loaded] = {}


def load_spec(path: Path, *, check: bool = True, lenient: bool = False, checked: str | None = None) -> dict[str, Any]:
    """Load and (optionally) validate a spec, returning a 3.1-flavoured plain dict (a private copy).

    A document that breaks the OpenAPI schema is a SpecError naming the first problem's location,
    unless ``lenient``: then it is returned anyway (``spec_problems`` lists what is wrong).
    ``checked``: the digest of a document that checked clean before; a file that still has it is not checked again.
    """
    loaded = _cached(path, check=check, checked=checked)
    if loaded.problems and not lenient:
        first, more = loaded.problems[0], len(loaded.problems) - 1
        also = f" (and {more} more problem{'s' if more > 1 else ''}; --lenient serves it anyway)" if more else ""
        raise SpecError(f"spec {path} is invalid {first}{also}")
    return copy.deepcopy(loaded.document)


def spec_problems(path: Path) -> tuple[SpecProblem, ...]:
    """Where and how the spec at ``path`` breaks the OpenAPI schema (empty when it does not)."""
    return _cached(path, check=True).problems


def clean_digest(path: Path) -> str | None:
    """The ``spec_digest`` of a spec this process loaded and checked without a problem (None: not so loaded)."""
    loaded = _cached(path, check=True)
    return None if loaded.problems else loaded.digest


def spec_digest(content: bytes) -> str:
    """What a check of a spec depends on, as one hex string: its bytes and the checker's versions."""
    return hashlib.sha256(content + b"\0" + _checker_version().encode()).hexdigest()


def _cached(path: Path, *, check: bool, checked: str | None = None) -> _Loaded:
    try:
        key = (str(path.resolve()), path.stat().st_mtime_ns, check)
    except OSError as exc:
        raise SpecError(f"cannot read spec {path}: {exc}") from exc
    if key not in _LOADED:
        _LOADED[key] = _load(path, check=check, checked=checked)
    return _LOADED[key]


def _load(path: Path, *, check: bool, checked: str | None) -> _Loaded:
    try:
        content = path.read_bytes()
        text = content.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec {path}: {exc}") from exc
    try:
        document = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SpecError(f"spec {path} is not valid YAML/JSON: {_one_line(str(exc))}") from exc
    if isinstance(document, dict) and str(document.get("swagger", "")).startswith("2."):
        converted = path.with_name(f"{path.stem}.openapi.json")
        raise SpecError(
            f"spec {path} is Swagger 2.0, not an OpenAPI 3 document; convert it with the maintained converter and "
            f"serve the result: npx swagger2openapi {path} -o {converted} && mockserver --spec {converted}"
        )
    version = str(document.get("openapi", "")) if isinstance(document, dict) else ""
    if not isinstance(document, dict) or not version.startswith("3."):
        raise SpecError(f"spec {path} is not an OpenAPI 3 document")
    digest = spec_digest(content)
    problems = _problems(document, version) if check and digest != checked else ()
    _normalise_schemas(document, legacy_bounds=version.startswith("3.0"))
    return _Loaded(document, problems, digest)


def _problems(document: dict[str, Any], version: str) -> tuple[SpecProblem, ...]:
    """Every place the document breaks the OpenAPI schema of its version, up to a limit."""
    validators = _validators()
    validator = validators.get(version[:3], validators["3.1"])
    found: list[SpecProblem] = []
    try:
        for error in validator(document).iter_errors():
            message = error.message.split("\n\n", 1)[0]  # not the schema and instance dumps that follow
            found.append(SpecProblem(_pointer(_in_document(document, error.absolute_path)), _short(_one_line(message))))
            if len(found) == _MAX_PROBLEMS:
                break
    except Exception as exc:  # the validator's own failure (an unresolvable $ref) is a problem too
        found.append(SpecProblem("", _short(_one_line(f"{type(exc).__name__}: {exc}"))))
    return tuple(found)


def _in_document(document: dict[str, Any], parts: Any) -> list[Any]:
    """Where a path the validator walked through local ``$ref``s really is in the document (else that path)."""
    location: list[Any] = []
    node: Any = document
    try:
        for part in parts:
            seen: set[str] = set()
            while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
                if node["$ref"] in seen:
                    return list(parts)
                seen.add(node["$ref"])
                location = [p.replace("~1", "/").replace("~0", "~") for p in node["$ref"][2:].split("/")]
                node = document
                for step in location:
                    node = node[int(step)] if isinstance(node, list) else node[step]
            node = node[part]
            location.append(part)
    except (KeyError, IndexError, TypeError, ValueError):
        return list(parts)
    return location


def _pointer(parts: Any) -> str:
    """A JSON pointer (RFC 6901) from the parts of a path."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


_SCHEMA_KEYS = ("schema", "schemas", "properties", "items", "additionalProperties", "allOf", "anyOf", "oneOf")


def _normalise_schemas(node: Any, *, legacy_bounds: bool, in_schema: bool = False) -> None:
    """Rewrite OpenAPI 3.0 schema idioms as JSON Schema 2020-12: ``nullable``, and (3.0) boolean exclusive bounds.

    ``nullable: true`` is no keyword of 3.1, yet 3.1 documents still write it (OpenAI's spec, 111 times,
    beside ``default: null``), and Schemathesis reads it in either version: null is admitted there too.
    """
    if isinstance(node, list):
        for item in node:
            _normalise_schemas(item, legacy_bounds=legacy_bounds, in_schema=in_schema)
        return
    if not isinstance(node, dict):
        return
    if in_schema:
        if node.pop("nullable", False) is True:
            kind = node.get("type")
            if isinstance(kind, str):
                node["type"] = [kind, "null"]
            elif isinstance(kind, list) and "null" not in kind:
                node["type"] = [*kind, "null"]
            elif kind is None and "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        if legacy_bounds:
            _upgrade_exclusive_bounds(node)
    for key, value in node.items():
        if key in ("example", "examples", "default", "enum", "const"):
            continue
        inside = in_schema or key in _SCHEMA_KEYS or key == "not"
        _normalise_schemas(value, legacy_bounds=legacy_bounds, in_schema=inside)


def _upgrade_exclusive_bounds(node: dict[str, Any]) -> None:
    """3.0's ``exclusiveMinimum: true`` beside ``minimum`` is 2020-12's ``exclusiveMinimum: <the bound>``."""
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if node.get(flag) is True and bound in node:
            node[flag] = node.pop(bound)
        elif node.get(flag) is False:
            node.pop(flag)
