"""A resource's identity: which field the item path's parameter names, its type, and who makes it.

The field is chosen, in order: ``x-sandbox-id`` (on the path parameter, the record schema, or a
property), the parameter's own name, the parameter's name without the resource's singular
(``external_customer_id`` -> ``external_id``, ``customer`` -> ``id``), the one readOnly scalar
property that is neither a date nor a reference, then ``id``. Its kind (integer counter, uuid or
string token, with the prefix an example shows, such as ``cus_``) comes from the schema, and the
server generates it unless the create request's schema lets the client set it (readOnly in the
record but writable in the create body, as a client-chosen code or name often is, still counts).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mockserver.spec.resolve import JsonSchema, branches, schema_types

IdKind = Literal["integer", "uuid", "string"]
_PREFIXED = re.compile(r"^([A-Za-z][A-Za-z0-9]*[_-])([A-Za-z0-9]{6,})$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789abcdef"
_DEFAULT_TOKEN = 14
_SORT_WIDTH = 6  # leading token characters that count the ids made (62**6 and 16**6 leave room enough)
_STAMPS = frozenset({"created_at", "updated_at", "deleted_at", "createdat", "updatedat", "object", "type"})


@dataclass(frozen=True)
class Identity:
    """How a resource's records are identified: the field, its kind, and whether the server makes it."""

    field: str = "id"
    kind: IdKind = "integer"
    generated: bool = True
    prefix: str = ""
    length: int = _DEFAULT_TOKEN
    alphabet: str = _BASE62

    @property
    def is_integer(self) -> bool:
        """Whether ids are integers from the resource's counter."""
        return self.kind == "integer"

    def make(self, resource: str, company_id: int, counter: int) -> int | str:
        """The id numbered ``counter``: the counter itself, or a uuid or token derived from it (deterministic)."""
        if self.kind == "integer":
            return counter
        digest = hashlib.blake2b(f"{resource}:{company_id}:{counter}".encode(), digest_size=32).digest()
        base = int.from_bytes(hashlib.blake2b(f"{resource}:{company_id}".encode(), digest_size=4).digest(), "big")
        ordinal = base + counter  # leads the id, so ids sort in the order they were made (newest last)
        if self.kind == "uuid":
            return str(uuid.UUID(bytes=ordinal.to_bytes(6, "big") + digest[:10], version=4))
        width = _SORT_WIDTH if self.length >= _SORT_WIDTH + 4 else 0
        chars = _digits(ordinal, self.alphabet, width)
        number = int.from_bytes(digest, "big")
        for _ in range(self.length - width):
            number, digit = divmod(number, len(self.alphabet))
            chars.append(self.alphabet[digit])
        return self.prefix + "".join(chars)

    def coerce(self, value: Any) -> Any:
        """A path value as the stored id's type (``"5"`` -> 5 for integer ids)."""
        if self.kind == "integer" and isinstance(value, str) and is_integer_text(value):
            return int(value)
        return value


def is_integer_text(text: str) -> bool:
    """ASCII digits with an optional minus: what ``int`` reads (``str.isdigit`` also admits ``²``; ``--5`` fails)."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


def _digits(number: int, alphabet: str, width: int) -> list[str]:
    """``number`` in ``alphabet``, most significant first, in exactly ``width`` characters (the low ones)."""
    out = []
    for _ in range(width):
        number, digit = divmod(number, len(alphabet))
        out.append(alphabet[digit])
    return out[::-1]


def normalized(name: str) -> str:
    """A name without case or separators, for loose matching (``externalId`` == ``external_id``)."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def id_field(
    properties: Mapping[str, Any],
    param: str | None,
    singular: str,
    declared: str | None = None,
) -> str:
    """The record field a path parameter names (see the module docstring for the order)."""
    if declared:
        return declared
    flagged = [name for name, sub in properties.items() if isinstance(sub, dict) and sub.get("x-sandbox-id") is True]
    if flagged:
        return flagged[0]
    if param:
        if param in properties:
            return param
        by_norm = {normalized(name): name for name in properties}
        wanted = normalized(param)
        if wanted in by_norm:
            return by_norm[wanted]
        base = normalized(singular)
        if base and base in wanted:
            rest = wanted.replace(base, "", 1)
            for candidate in (rest, rest + "id", "id" if rest in ("", "id") else ""):
                if candidate and candidate in by_norm:
                    return by_norm[candidate]
    server_only = [name for name, sub in properties.items() if _identifying(name, sub)]
    if "id" not in properties and len(server_only) == 1:
        return server_only[0]
    if "id" in properties or not param:
        return "id"
    return param


def _identifying(name: str, schema: Any) -> bool:
    """A readOnly scalar that could identify a record (not a stamp, date or reference to another record)."""
    if not isinstance(schema, dict) or schema.get("readOnly") is not True or normalized(name) in _STAMPS:
        return False
    types = schema_types(schema) - {"null"}
    if not types <= {"string", "integer"} or not types:
        return False
    return schema.get("format") not in ("date", "date-time") and "enum" not in schema


def _lone_branch(schema: JsonSchema) -> JsonSchema:
    """An id written as one type or null (``anyOf: [{type: string}, {type: null}]``): that one type's schema."""
    if schema_types(schema):
        return schema
    real = [branch for branch in branches(schema) if schema_types(branch) - {"null"}]
    return dict(real[0]) if len(real) == 1 else schema


def identity_of(
    field: str,
    record: JsonSchema,
    param_schema: JsonSchema | None,
    create_request: JsonSchema | None,
    examples: Iterable[Any] = (),
) -> Identity:
    """The identity of records whose id is ``field``, from its schema, the create request and examples."""
    own = (record.get("properties") or {}).get(field)
    schema: JsonSchema = _lone_branch(own if isinstance(own, dict) else (param_schema or {}))
    samples = [value for value in _samples(schema, field, examples) if isinstance(value, str | int)]
    types = schema_types(schema) - {"null"}
    if types & {"integer", "number"} and "string" not in types:
        kind: IdKind = "integer"
    elif schema.get("format") == "uuid" or (samples and all(_UUID.match(str(s)) for s in samples)):
        kind = "uuid"
    elif not types and (not samples or all(isinstance(s, int) for s in samples)):
        kind = "integer"
    else:
        kind = "string"
    requested = (create_request or {}).get("properties") or {}
    sent = requested.get(field)
    # a field the create body sets is the client's (a code, a name), even when the record marks it readOnly
    generated = not isinstance(sent, dict) or sent.get("readOnly") is True
    if kind != "string":
        return Identity(field, kind, generated)
    prefix, length, alphabet = "", _DEFAULT_TOKEN, _BASE62
    for sample in samples:
        match = _PREFIXED.match(str(sample))
        if match:
            prefix, rest = match.group(1), match.group(2)
            length = min(max(len(rest), 8), 32)
            alphabet = _HEX if all(c in _HEX for c in rest) else _BASE62
            break
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and len(prefix) + length > max_length:
        length = max(1, max_length - len(prefix))
    made = Identity(field, "string", generated, prefix, length, alphabet)
    pattern = schema.get("pattern")
    return _fitted(made, pattern) if isinstance(pattern, str) else made


_SIMPLE_PATTERN = re.compile(r"\^([A-Za-z0-9_-]*)\[([^\]\\]+)\]\{(\d+)(?:,(\d*))?\}\$")
_CLASSES = {"0-9": "0123456789", "a-f": "abcdef", "A-F": "", "a-z": "abcdefghijklmnopqrstuvwxyz", "A-Z": _BASE62[10:36]}


def _fitted(identity: Identity, pattern: str) -> Identity:
    """The identity with the prefix, alphabet and length a simple id pattern (``^[0-9a-fA-F]{64}$``) asks for."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return identity
    simple = _SIMPLE_PATTERN.fullmatch(pattern)
    candidates = [identity]
    if simple:
        prefix, klass, low, high = simple.groups()
        ranges = re.findall(r".-.|.", klass)
        if all(r in _CLASSES for r in ranges):
            alphabet = "".join(sorted(set("".join(_CLASSES[r] for r in ranges)))) or _HEX  # sorted: ids sort as made
            # ``{6}`` exactly; ``{3,}`` and ``{10,20}``: the usual token length where the bounds allow it
            length = int(low) if high is None else max(int(low), min(int(high or 10**6), _DEFAULT_TOKEN))
            candidates.insert(0, Identity(identity.field, "string", identity.generated, prefix, length, alphabet))
    for candidate in candidates:  # the first whose ids match the pattern; else ids as before
        if all(compiled.search(str(candidate.make("fit", 1, counter))) for counter in (1, 2, 999)):
            return candidate
    return identity


def _samples(schema: Mapping[str, Any], field: str, examples: Iterable[Any]) -> list[Any]:
    """Example values of the id: the property's own examples, then the field in record examples."""
    found: list[Any] = []
    if "example" in schema:
        found.append(schema["example"])
    if isinstance(schema.get("examples"), list):
        found.extend(schema["examples"])
    for example in examples:
        if isinstance(example, dict) and field in example:
            found.append(example[field])
    return found
