"""Request and response validation, compiled once per operation with jsonschema-rs.

Parameters are coerced from strings by their schema's type, then validated (400 on failure).
Bodies are checked for content type (415), parsed (400 when malformed; JSON, forms, multipart and
simple XML, see ``mockserver.bodies``) and validated (422 with per-field messages). Schemas are
compiled from their bundle (shared nodes under $defs), each distinct schema once per app. In strict
mode every response is validated too; a mismatch raises ``ContractViolation``, because the mock
must never lie about its own contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jsonschema_rs
import orjson

from mockserver.bodies import coerce_scalar, is_xml, nested_query, parse_form, parse_xml
from mockserver.errors import ApiError, BadRequest, ContractViolation, UnsupportedMediaType, ValidationFailed
from mockserver.jsonio import dumps
from mockserver.spec import Operation, Parameter
from mockserver.spec.compiled import Compiled, compiled
from mockserver.spec.fragments import FORM_TYPES
from mockserver.spec.resolve import JsonSchema, Lookup, admitted_types, schema_types

__all__ = [
    "OperationValidator",
    "SchemaCompiler",
    "coerce_scalar",
    "compile_schema",
    "integral_floats_to_int",
    "refused_summary",
]
_READS_A_COLLECTION = frozenset({"list", "sublist", "query"})
_SECRET_NAME = re.compile(r"password|passphrase|secret|token|api_?key|private_?key|credential", re.IGNORECASE)
_MAX_MESSAGE = 300
_LONG_DIGITS = re.compile(rb"\d{19,}")
_ALTERNATIVES = (jsonschema_rs.ValidationErrorKind.AnyOf, jsonschema_rs.ValidationErrorKind.OneOfNotValid)


def compile_schema(schema: JsonSchema | bool) -> Any:
    """A reusable jsonschema-rs validator with format checking on."""
    return compiled(schema, {}).validator


def refused_summary(refused: Mapping[str, str], most: int = 5) -> str | None:
    """One line naming the keywords the compiled schemas left out, and why (None when none was)."""
    if not refused:
        return None
    named = list(dict.fromkeys(f"{p.rsplit('/', 1)[-1] or 'a whole schema'} ({why})" for p, why in refused.items()))
    more = f", and {len(named) - most} more" if len(named) > most else ""
    return (
        f"{len(refused)} schema keyword(s) break the spec's JSON Schema dialect and are not checked: "
        f"{'; '.join(named[:most])}{more}"
    )


class SchemaCompiler:
    """Compiles each distinct resolved schema once: operations of one spec share many (errors, resources)."""

    def __init__(self) -> None:
        self._done: dict[int, tuple[Any, Compiled]] = {}  # id -> (schema, compiled); holding it keeps ids unique
        self.refused: dict[str, str] = {}  # keywords left out of compiled schemas: pointer -> jsonschema-rs's reason

    def compile(self, schema: JsonSchema | bool) -> Compiled:
        """The compiled validator of ``schema``, made on first request."""
        hit = self._done.get(id(schema))
        if hit is None or hit[0] is not schema:
            hit = self._done[id(schema)] = (schema, compiled(schema, self.refused))
        return hit[1]


class OperationValidator:
    """Everything needed to check one operation's requests (and, in strict mode, its responses)."""

    def __init__(
        self,
        operation: Operation,
        *,
        strict: bool,
        compiler: SchemaCompiler | None = None,
        credential_query: frozenset[str] = frozenset(),  # apiKey query parameters: never "unknown"
    ) -> None:
        self.operation = operation
        compiler = compiler or SchemaCompiler()
        self._parameters = [(p, compiler.compile(p.schema).validator) for p in operation.parameters]
        query = [p for p in operation.parameters if p.location == "query"]
        named = frozenset(p.name for p in query) | {name for name, _ in operation.path_query}
        self._known_query = (
            named | credential_query if operation.kind in _READS_A_COLLECTION else None
        )  # a misspelt filter on a list must not quietly return everything
        objects = [p.name for p in query if "object" in admitted_types(p.schema)]
        self._object_query = tuple(f"{name}[" for name in objects)
        self._deep_objects = frozenset(objects)  # ``created[gt]=80`` (Stripe, and deepObject style) reads as an object
        self._bodies = {media: compiler.compile(schema) for media, schema in operation.request_content.items()}
        self._responses: dict[tuple[str, str], Any] = {}
        declared = operation.extensions.get("x-sandbox-invalid-body-status")
        self._invalid_body_is_400 = declared == 400 or (
            "422" not in operation.responses and "400" in operation.responses
        )
        if strict:
            for status, response in operation.responses.items():
                for media, schema in response.content.items():
                    if schema is not None and media.endswith("json"):
                        self._responses[(status, media)] = compiler.compile(schema).validator

    def parameters(
        self,
        path: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Lookup,
        cookies: Lookup,
    ) -> dict[str, Any]:
        """Coerce and validate every declared parameter, or raise 400 naming the first bad one."""
        if self._known_query is not None:
            self._refuse_unknown_query(query)
        values: dict[str, Any] = {}
        for parameter, validator in self._parameters:
            raw: list[str] | None
            if parameter.location == "path":
                raw = [path[parameter.name]] if parameter.name in path else None
            elif parameter.location == "query":
                raw = query.get(parameter.name)
                if raw is None and parameter.name in self._deep_objects:
                    nested = nested_query(query, parameter.name, parameter.schema)
                    if nested is not None:
                        values[parameter.name] = self._checked(parameter, validator, nested)
                        continue
            elif parameter.location == "header":
                header = headers.get(parameter.name)
                raw = None if header is None else [header]
            else:
                cookie = cookies.get(parameter.name)
                raw = None if cookie is None else [cookie]
            if raw is None:
                if parameter.required:
                    raise BadRequest(f"The {parameter.location} parameter '{parameter.name}' is required.")
                continue
            if parameter.allow_empty and not any(raw):
                continue  # sent with no value, as the spec allows: nothing to check, nothing to filter by
            values[parameter.name] = self._checked(parameter, validator, _coerce_parameter(parameter, raw))
        return values

    @staticmethod
    def _checked(parameter: Parameter, validator: Any, value: Any) -> Any:
        """The value, once its schema accepts it (else 400 naming the parameter and the first problem)."""
        try:
            errors = list(validator.iter_errors(value))
        except (ValueError, OverflowError):
            raise BadRequest(f"The {parameter.location} parameter '{parameter.name}' is out of range.") from None
        if errors:
            raise BadRequest(f"The {parameter.location} parameter '{parameter.name}' is invalid: {_message(errors[0])}")
        return value

    def _refuse_unknown_query(self, query: Mapping[str, list[str]]) -> None:
        """400 naming query parameters a collection does not declare (``status[]`` for ``status``, a typo)."""
        known = self._known_query or frozenset()
        unknown = sorted(n for n in query if n not in known and not any(map(n.startswith, self._object_query)))
        if unknown:
            names = ", ".join(repr(n) for n in unknown)
            takes = ", ".join(sorted(known)) or "none"
            raise BadRequest(f"Unknown query parameter {names}: this operation takes {takes}.")

    def body(self, content_type: str | None, raw: bytes) -> Any:
        """Parse and validate the request body; None when the operation takes none and none was sent."""
        if not self._bodies:
            return None
        media = (content_type or "").split(";", 1)[0].strip().lower()
        chosen = _match_media(media, self._bodies)
        if not raw and (not media or chosen is None or chosen.endswith("json") or is_xml(chosen)):
            if self.operation.body_required:
                raise BadRequest(f"A request body is required ({', '.join(self._bodies)}).")
            return None  # nothing sent; but an empty form is an empty object, and empty bytes are a file
        if chosen is None:
            raise UnsupportedMediaType(
                f"Content-Type {media or '(none)'} is not supported here; send one of: {', '.join(self._bodies)}."
            )
        if chosen.endswith("json"):
            try:
                body = orjson.loads(raw)
                if _LONG_DIGITS.search(raw):  # orjson reads integers beyond 64 bits as (rounded) floats
                    body = json.loads(raw)
            except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
                raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
        elif chosen in FORM_TYPES:
            body = parse_form(raw, content_type or chosen, self.operation.request_content[chosen])
        elif is_xml(chosen):
            json_types = [m for m in self._bodies if m.endswith("json")]
            instead = f"one of: {', '.join(json_types)}" if json_types else "elements and text only"
            body = parse_xml(raw, self.operation.request_content[chosen], instead)
        else:
            return raw
        self._check_body(self._bodies[chosen], body)
        return integral_floats_to_int(body, self.operation.request_content[chosen])

    def _check_body(self, compiled: Compiled, body: Any) -> None:
        validator, schema = compiled
        try:
            if validator.is_valid(body):
                return
            errors = list(validator.iter_errors(body))
        except (ValueError, OverflowError) as exc:
            raise BadRequest(f"The request body holds a value out of range: {_short(str(exc))}") from None
        fields: dict[str, list[str]] = {}
        for error in errors:
            for field, message in _describe(error, schema):
                fields.setdefault(field, []).append(message)
        if self._invalid_body_is_400:
            field, messages = next(iter(fields.items()))
            raise BadRequest(f"Invalid request: {field}: {messages[0]}")
        raise ValidationFailed(fields)

    def refusal(self, error: ValidationFailed) -> ApiError:
        """A 422 as this operation documents refusals: 400 where it documents a 400 and no 422."""
        if not self._invalid_body_is_400:
            return error
        return BadRequest(error.message, errors=error.errors, headers=error.headers)

    def response(self, status: int, content_type: str | None, body: Any) -> None:
        """Raise ContractViolation unless the spec documents this status, media type and body."""
        op = self.operation
        key = str(status)
        documented = op.responses.get(key) or op.responses.get(f"{key[0]}XX") or op.responses.get("default")
        if documented is None:
            raise ContractViolation(f"{op.operation_id} answered {status}, which its spec does not document.")
        if documented.status != key and documented.status in op.responses and f"{key[0]}XX" != documented.status:
            key = documented.status
        if not documented.content:
            if body is not None and status < 400:
                raise ContractViolation(f"{op.operation_id} {status} has a body but the spec documents none.")
            return
        media = (content_type or "").split(";", 1)[0].strip()
        if media not in documented.content:
            raise ContractViolation(
                f"{op.operation_id} {status} answered {media}; spec says {list(documented.content)}."
            )
        validator = self._responses.get((documented.status, media))
        if validator is None:
            return
        errors = list(validator.iter_errors(body))
        if errors:
            where = "/".join(map(str, errors[0].instance_path)) or "(root)"
            raise ContractViolation(
                f"{op.operation_id} {status} response breaks its schema at {where}: {_short(errors[0].message)}"
            )


def integral_floats_to_int(value: Any, schema: Mapping[str, Any]) -> Any:
    """Store ``5.0`` sent for an integer field as ``5`` (JSON Schema counts it as an integer)."""
    if isinstance(value, float) and value.is_integer() and "integer" in schema_types(schema):
        return int(value)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, item in value.items():
            sub = properties.get(key)
            if isinstance(sub, dict):
                value[key] = integral_floats_to_int(item, sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [integral_floats_to_int(item, schema["items"]) for item in value]
    return value


def _match_media(media: str, declared: Mapping[str, Any]) -> str | None:
    if media in declared:
        return media
    for candidate in declared:
        if candidate in ("*/*", f"{media.split('/')[0]}/*"):
            return candidate
        if media.endswith("+json") and candidate == "application/json":
            return candidate
    return None


def _coerce_parameter(parameter: Parameter, raw: list[str]) -> Any:
    schema = parameter.schema
    if "array" in schema_types(schema):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if not parameter.explode and raw == [""]:
            return []  # form style: ``ids=`` is the empty list (RFC 6570), not a list of one empty string
        parts = raw if parameter.explode else [p for chunk in raw for p in chunk.split(",")]
        return [coerce_scalar(part, items or {}) for part in parts]
    return coerce_scalar(raw[-1], schema)  # an object's text stays text; ``created=172`` of an anyOf is 172


def _describe(error: Any, schema: JsonSchema | bool) -> list[tuple[str, str]]:
    """(field path, human message) pairs for one validation error (a secret's value is never repeated)."""
    path = ".".join(str(part) for part in error.instance_path)
    kind = error.kind
    prefix = f"{path}." if path else ""
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return [(f"{prefix}{kind.property}", "This field is required.")]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        return [(f"{prefix}{name}", "Unknown field: it is not part of this resource.") for name in kind.unexpected]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.FalseSchema):
        return [(path or "(body)", "This field is not allowed here.")]
    if isinstance(kind, _ALTERNATIVES):
        # A nullable object (``anyOf: [Address, null]``): report the fields of the branch of the value's type.
        fitting = [branch for branch in kind.context if not _wrong_type(branch, error.instance_path)]
        if len(fitting) == 1 and fitting[0]:
            return [pair for sub in fitting[0] for pair in _describe(sub, schema)]
    return [(path or "(body)", _message(error, secret=_is_secret(error, schema)))]


def _is_secret(error: Any, schema: JsonSchema | bool) -> bool:
    """Whether the failing value is a secret: a password or secret by name, or writeOnly in its schema."""
    names = [part for part in error.instance_path if isinstance(part, str)]
    if names and _SECRET_NAME.search(names[-1]):
        return True
    node: Any = schema
    for part in list(error.schema_path)[:-1]:  # the subschema whose keyword failed
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(node, Mapping) and (node.get("writeOnly") is True or node.get("format") == "password")


def _wrong_type(branch: list[Any], instance_path: Any) -> bool:
    """Whether one anyOf/oneOf branch failed because the value itself has another type."""
    here = list(instance_path)
    return any(
        isinstance(sub.kind, jsonschema_rs.ValidationErrorKind.Type) and list(sub.instance_path) == here
        for sub in branch
    )


def _message(error: Any, *, secret: bool = False) -> str:
    """The human message of one error; an enum error lists every allowed value, not just the first two.

    A secret's value is replaced by "The value" before the message is shortened, so no part of it shows.
    """
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Enum) and not secret:
        allowed = ", ".join(_short(dumps(option).decode()) for option in error.kind.options)
        return f"{_short(dumps(error.instance).decode())} is not one of the allowed values: {allowed}."
    message = str(error.message)
    if secret and isinstance(error.instance, str):
        message = message.replace(dumps(error.instance).decode(), "The value")
    return _short(message)


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
