"""The spec's own error schema, filled from an error: which field takes the code, message, status, details.

The sandbox's native error is ``{"error", "message", "request_id", "errors"?}``. A spec that documents
another shape gets its own: each field is given a role by its name and type (``message``/``detail``,
``code``/``type``, an integer ``status``, ``errors``/``details`` as a field map or a list of
``{field, message}``), a wrapper object (Stripe's ``{"error": {...}}``) is descended into, RFC 7807
problem fields are understood, and required fields with no role get their plainest valid value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from mockserver.errors import native_error
from mockserver.spec.envelopes import plain_value
from mockserver.spec.identity import normalized
from mockserver.spec.resolve import JsonSchema, schema_types

NATIVE_FIELDS = frozenset({"error", "message", "request_id", "errors"})
_TEXT_ROLES: dict[str, frozenset[str]] = {
    "message": frozenset({"message", "detail", "errormessage", "errordescription", "description", "msg", "reason"}),
    "code": frozenset({"error", "code", "errorcode", "type", "errortype", "kind", "key", "errorkey"}),
    "status": frozenset({"status", "statuscode", "httpstatus", "httpstatuscode"}),
    "param": frozenset({"param", "parameter", "field", "pointer", "attribute"}),
    "title": frozenset({"title", "statustext", "name"}),
    "request_id": frozenset({"requestid", "traceid", "correlationid", "xrequestid", "requestuuid", "instance"}),
}
_NUMBER_ROLES = {"status": frozenset({"status", "statuscode", "httpstatus", "httpstatuscode", "code", "errornumber"})}
_DETAIL_NAMES = frozenset({"errors", "details", "errordetails", "validationerrors", "fielderrors", "invalidparams"})
_DETAIL_NAMES |= frozenset({"fields", "problems", "issues", "violations", "elements", "params"})
_FIELD_NAMES = frozenset({"field", "name", "path", "param", "parameter", "pointer", "attribute", "property", "key"})
_ITEM_MESSAGES = frozenset({"message", "detail", "reason", "msg", "description", "error", "title"})


@dataclass(frozen=True)
class ErrorFacts:
    """What an error says, before it is shaped: code, message, status, request id and per-field messages."""

    code: str
    message: str
    status: int
    request_id: str
    errors: dict[str, list[str]] | None = None

    def native(self) -> dict[str, Any]:
        """The sandbox's own error shape."""
        return native_error(self.code, self.message, self.request_id, self.errors)


def is_native(schema: JsonSchema | None) -> bool:
    """Whether a schema documents the native shape (or documents nothing), so it needs no filling."""
    if not schema:
        return True
    properties = schema.get("properties") or {}
    error = properties.get("error")
    return (
        bool(properties)
        and set(properties) <= NATIVE_FIELDS
        and (not isinstance(error, dict) or "string" in schema_types(error) or not schema_types(error))
    )


def shape_error(schema: JsonSchema | None, facts: ErrorFacts) -> Any:
    """The error body ``schema`` documents, filled from ``facts`` (the native body when it is native)."""
    if is_native(schema):
        return facts.native()
    assert schema is not None
    return _object(schema, facts, depth=0)


def _object(schema: JsonSchema, facts: ErrorFacts, depth: int) -> Any:
    if "array" in schema_types(schema):
        return [_object(schema["items"], facts, depth + 1)] if isinstance(schema.get("items"), dict) else []
    properties = schema.get("properties") or {}
    if not properties:
        branches = [b for b in (*(schema.get("oneOf") or ()), *(schema.get("anyOf") or ())) if isinstance(b, dict)]
        if branches and depth < 3:
            return _object(max(branches, key=lambda b: len(b.get("properties") or ())), facts, depth + 1)
        return facts.native() if not schema_types(schema) or "object" in schema_types(schema) else facts.message
    required = set(schema.get("required") or ())
    body: dict[str, Any] = {}
    used: set[str] = set()
    if any(normalized(n) in _CODE_NAMES and "string" in schema_types(s) for n, s in properties.items()):
        used.add(_CODE_ELSEWHERE)  # ``error`` beside ``code`` is the status's phrase (Lago)
    for name, sub in properties.items():
        if not isinstance(sub, dict):
            continue
        value = _field(name, sub, facts, depth, used, required)
        if value is _SKIP:
            if name in required:
                body[name] = plain_value(sub)
            continue
        body[name] = value
    return body


_SKIP: Any = object()
_CODE_NAMES = frozenset({"code", "errorcode"})
_WRAPPERS = frozenset({"error", "fault", "problem"})
_CODE_ELSEWHERE = "#code-elsewhere"


def _field(name: str, schema: JsonSchema, facts: ErrorFacts, depth: int, used: set[str], required: set[str]) -> Any:
    """The value of one error field, or _SKIP when the error has nothing for it."""
    key = normalized(name)
    types = schema_types(schema) - {"null"}
    if key in _DETAIL_NAMES and types & {"object", "array"}:
        return _details(schema, facts) if facts.errors else _SKIP
    if types & {"integer", "number"}:
        role = next((r for r, names in _NUMBER_ROLES.items() if key in names), None)
        return facts.status if role and _claim(role, used) else _SKIP
    if types & {"object"} and schema.get("properties") and depth < 2:
        wrapper = key in _WRAPPERS or name in required
        return _object(schema, facts, depth + 1) if wrapper else _SKIP
    if types and not types & {"string"}:
        return _SKIP
    role = next((r for r, names in _TEXT_ROLES.items() if key in names), None)
    if role == "code" and key == "error" and _CODE_ELSEWHERE in used:
        role = "title"
    if role is None or (not (role == "code" and schema.get("enum")) and not _claim(role, used)):
        return _SKIP
    if role == "code" and key == "type" and schema.get("format") in ("uri", "uri-reference"):
        return "about:blank"  # RFC 7807: the problem is described by its status
    value = {
        "message": facts.message,
        "code": facts.code,
        "title": _reason(facts.status),
        "request_id": facts.request_id,
        "status": str(facts.status),
        "param": next(iter(facts.errors or {}), None),
    }[role]
    if value is None:
        return _SKIP
    return _fit(value, schema, facts)


def _claim(role: str, used: set[str]) -> bool:
    """Each role fills one field (``error`` and ``code`` both mean code: the first one takes it)."""
    if role in used:
        return False
    used.add(role)
    return True


def _fit(value: str, schema: JsonSchema, facts: ErrorFacts) -> Any:
    """A text value made to fit an enum: itself, else the status's name, a word of the code, the class's name.

    In that order: the option naming the status (``not_found``), the one sharing most words with the code,
    the status class's generic name (``bad_request``, ``internal_server_error``), else the first option.
    Box's codes are HTTP's names (``not_modified`` before ``not_found``): a 404 took the first sharing ``not``,
    and a 415, sharing no word with any, ``created``.
    """
    options = schema.get("enum")
    if "const" in schema:
        return schema["const"]
    if not options or value in options:
        return value
    spelt = {_words(option): option for option in reversed(options)}  # the first of equal spellings wins
    own = spelt.get(_status_words(facts.status))
    if own is not None:
        return own
    words = set(facts.code.split("_"))
    hint = "invalid_request" if facts.status < 500 else "api"
    shared = max(options, key=lambda option: len(words & set(_words(option))) + (hint in str(option).lower()))
    if words & set(_words(shared)) or hint in str(shared).lower():
        return shared
    generic = spelt.get(_status_words(400 if facts.status < 500 else 500))
    return generic if generic is not None else options[0]


def _words(option: Any) -> tuple[str, ...]:
    """An enum value's words: ``Not-Found`` and ``not_found`` are (``not``, ``found``)."""
    return tuple(re.split(r"[\s_\-]+", str(option).lower().strip()))


def _status_words(status: int) -> tuple[str, ...]:
    """HTTP's name of a status as words: 415 is (``unsupported``, ``media``, ``type``)."""
    try:
        return _words(HTTPStatus(status).phrase)
    except ValueError:
        return ()


def _details(schema: JsonSchema, facts: ErrorFacts) -> Any:
    """Per-field messages as the schema wants them: a field map, a list of objects, or a list of strings."""
    errors = facts.errors or {}
    types = schema_types(schema)
    if "array" not in types:
        return errors
    raw_items = schema.get("items")
    items: JsonSchema = raw_items if isinstance(raw_items, dict) else {}
    item_types = schema_types(items)
    if "string" in item_types:
        return [f"{name}: {message}" for name, messages in errors.items() for message in messages]
    properties = items.get("properties") or {}
    field_key = next((p for p in properties if normalized(p) in _FIELD_NAMES), None)
    message_key = next((p for p in properties if normalized(p) in _ITEM_MESSAGES), None)
    rows = []
    for name, messages in errors.items():
        for message in messages:
            row = {p: plain_value(s) for p, s in properties.items() if p in (items.get("required") or ())}
            if field_key:
                row[field_key] = name
            if message_key:
                row[message_key] = message
            rows.append(row)
    return rows


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
