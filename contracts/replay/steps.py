"""A replayable request: what was sent (credentials by role, never in clear), what came back, and its bindings.

A ``Binding`` says that a value a step sent came from an earlier step's answer (the id a create assigned, the
number it generated): replay reads that value from the earlier step's *new* answer and sends it instead, so a
sequence replays against a target that assigns other ids than it did in the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from jsonpointer import JsonPointer, JsonPointerException, resolve_pointer

# Keys whose values a target assigns (ids, generated numbers): the values later requests may carry back.
_ASSIGNED_SUFFIXES = ("_id", "_number")
_ASSIGNED_NAMES = frozenset({"id", "number", "uuid", "key"})
_WRITES = frozenset({"POST", "PUT", "PATCH"})
IDEMPOTENCY_HEADER = "idempotency-key"


def assigned(name: str) -> bool:
    """Whether a field of this name holds a value the target assigns (``id``, ``customer_id``, ``invoice_number``)."""
    lowered = name.lower()
    return lowered in _ASSIGNED_NAMES or lowered.endswith(_ASSIGNED_SUFFIXES)


@dataclass(frozen=True)
class Binding:
    """A value a step sends comes from an earlier answer.

    What the step sends ``at`` (``path/2``, ``query/customer_id``, ``body/items/0/id``) is step ``source``'s
    answer at the JSON pointer ``pointer``.
    """

    at: str
    source: int
    pointer: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"at": self.at, "from": self.source, "pointer": self.pointer}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Binding:
        """Read one back (``ValueError`` when it is malformed)."""
        try:
            return cls(str(raw["at"]), int(raw["from"]), str(raw["pointer"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a malformed binding {dict(raw)!r}") from exc


@dataclass(frozen=True)
class Step:
    """One request of a sequence and the answer it got in the run.

    ``role`` is the key role whose credential replay sends as the spec says (None: sent with none); ``headers``
    and ``query`` hold only what the request itself carried, never a credential. ``body`` is JSON, or text when
    ``json_body`` is False. ``status`` and ``answer`` are the run's answer (``answer``: its JSON, else None).
    """

    method: str
    path: str
    role: str | None = "full"
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    json_body: bool = True
    content_type: str = ""
    status: int = 0
    answer: Any = None
    answer_type: str = ""
    answer_headers: tuple[str, ...] = ()  # the names of the answer's headers, lower case
    bindings: tuple[Binding, ...] = ()
    root: bool = False  # ``path`` is from the server's root, not under the API's base URL

    def line(self) -> str:
        """``METHOD /path?query``, for the console."""
        query = "&".join(f"{name}={value}" for name, value in self.query)
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "method": self.method,
            "path": self.path,
            "role": self.role,
            "query": [list(pair) for pair in self.query],
            "headers": [list(pair) for pair in self.headers],
            "body": self.body,
            "json_body": self.json_body,
            "content_type": self.content_type,
            "bindings": [binding.as_dict() for binding in self.bindings],
            "root": self.root,
            "got": {
                "status": self.status,
                "content_type": self.answer_type,
                "headers": list(self.answer_headers),
                "json": self.answer,
            },
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Step:
        """Read one back (``ValueError`` when it is malformed)."""
        try:
            got = raw.get("got") or {}
            return cls(
                method=str(raw["method"]).upper(),
                path=str(raw["path"]),
                role=None if raw.get("role") is None else str(raw["role"]),
                query=tuple((str(k), str(v)) for k, v in raw.get("query") or ()),
                headers=tuple((str(k), str(v)) for k, v in raw.get("headers") or ()),
                body=raw.get("body"),
                json_body=bool(raw.get("json_body", True)),
                content_type=str(raw.get("content_type") or ""),
                status=int(got.get("status") or 0),
                answer=got.get("json"),
                answer_type=str(got.get("content_type") or ""),
                answer_headers=tuple(str(name) for name in got.get("headers") or ()),
                bindings=tuple(Binding.from_dict(b) for b in raw.get("bindings") or ()),
                root=bool(raw.get("root", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"a malformed step: {exc}") from exc


# ----------------------------------------------------------------------------------------------------------
# Where values sit in a request, and where assigned values sit in an answer


def sent_values(step: Step) -> Iterator[tuple[str, Any]]:
    """Every place of ``step`` that may carry an assigned value, with the value.

    Path segments, and query parameters and body fields named like one (``id``, ``*_id``, ``*_number``).
    """
    for index, segment in enumerate(step.path.split("/")):
        if segment:
            yield f"path/{index}", segment
    for name, value in step.query:
        if assigned(name):  # ``customer_id=5``, never ``page=1``
            yield f"query/{name}", value
    if step.json_body:
        for pointer, name, value in _leaves(step.body, ""):
            if assigned(name):
                yield f"body{pointer}", value


def answer_values(answer: Any) -> Iterator[tuple[str, Any]]:
    """The assigned values of an answer (JSON pointer, value): fields named ``id``, ``*_id``, ``*_number``."""
    for pointer, name, value in _leaves(answer, ""):
        if assigned(name) and _value_key(value) is not None:  # (``1 in (True,)`` holds: no tuple test here)
            yield pointer, value


def _leaves(value: Any, pointer: str, name: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, f"{pointer}/{_escape(str(key))}", str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _leaves(inner, f"{pointer}/{index}", name)
    else:
        yield pointer, name, value


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _value_key(value: Any) -> str | None:
    """How a sent and an answered value are matched: ``5`` in a path is the id ``5``; booleans never match."""
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return None
    return str(value)


def bind(steps: Sequence[Step]) -> list[Step]:
    """``steps`` with their bindings.

    Each assigned-looking value a step sends is tied to the latest earlier write (POST, PUT, PATCH) whose
    answer holds it as a record's own ``id``, else at another ``*_id``/``*_number`` field.
    """
    own: dict[str, tuple[int, str]] = {}
    other: dict[str, tuple[int, str]] = {}
    bound: list[Step] = []
    for index, step in enumerate(steps):
        found: list[Binding] = []
        for at, value in sent_values(step):
            key = _value_key(value)
            source = (own.get(key) or other.get(key)) if key is not None else None
            if source is not None:
                found.append(Binding(at, *source))
        bound.append(replace(step, bindings=tuple(found)))
        if step.method in _WRITES and 200 <= step.status < 300:
            for pointer, value in answer_values(step.answer):
                key = _value_key(value)
                if key is not None:
                    (own if pointer.endswith("/id") else other)[key] = (index, pointer)
    return bound


def needed(steps: Sequence[Step], last: int) -> list[Step]:
    """The steps up to ``last`` that the request at ``last`` needs, rebound.

    Those it takes values from (transitively), every accepted write that names a record they created (an
    action, an edit, a payment on it), the requests sent under the same idempotency key, and what those need.
    """
    writes_to: dict[int, list[int]] = {}
    same_key: dict[str, list[int]] = {}  # requests sent under one idempotency key: each replays the first
    for index in range(last + 1):
        if steps[index].method != "GET" and 200 <= steps[index].status < 300:  # a refused write changed nothing
            for binding in steps[index].bindings:
                writes_to.setdefault(binding.source, []).append(index)
        key = idempotency_key(steps[index])
        if key:
            same_key.setdefault(key, []).append(index)
    keep = {last}
    work = [last]
    while work:
        current = work.pop()
        sharing = same_key.get(idempotency_key(steps[current]) or "", [])
        for index in [b.source for b in steps[current].bindings] + writes_to.get(current, []) + sharing:
            if index not in keep and index <= last:
                keep.add(index)
                work.append(index)
    return bind([replace(steps[index], bindings=()) for index in sorted(keep)])


def idempotency_key(step: Step) -> str:
    """The ``Idempotency-Key`` a step sent ('' when none)."""
    return next((value for name, value in step.headers if name.lower() == IDEMPOTENCY_HEADER), "")


# ----------------------------------------------------------------------------------------------------------
# The failure's id


def failure_id(suite: str, rule: str, steps: Sequence[Step]) -> str:
    """``<suite>-<12 hex>``, from the suite, the rule and the sequence.

    Values the target assigned (bound ones) and idempotency keys (fresh each run) are left out, so the same
    failure on the same seed has the same id.
    """
    canonical = [_canonical(step) for step in steps]
    text = json.dumps([suite, rule, canonical], sort_keys=True, default=str)
    return f"{suite}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _canonical(step: Step) -> dict[str, Any]:
    bound = {binding.at: f"<{binding.source}{binding.pointer}>" for binding in step.bindings}
    segments = step.path.split("/")
    path = "/".join(bound.get(f"path/{i}", segment) for i, segment in enumerate(segments))
    query = [(name, bound.get(f"query/{name}", value)) for name, value in step.query]
    headers = [(name, "<fresh>" if name.lower() == IDEMPOTENCY_HEADER else value) for name, value in step.headers]
    body = step.body
    if step.json_body and body is not None:
        body = json.loads(json.dumps(body))
        for at, placeholder in bound.items():
            if at.startswith("body/"):
                _set(body, at[len("body") :], placeholder)
    return {
        "method": step.method,
        "root": step.root,
        "path": path,
        "role": step.role,
        "query": query,
        "headers": headers,
        "body": body,
    }


def pointer_get(document: Any, pointer: str) -> Any:
    """The value at ``pointer`` (``KeyError`` when there is none)."""
    try:
        return resolve_pointer(document, pointer)
    except (JsonPointerException, TypeError) as exc:
        raise KeyError(pointer) from exc


def _set(document: Any, pointer: str, value: Any) -> None:
    with contextlib.suppress(JsonPointerException):
        JsonPointer(pointer).set(document, value)


def with_value(body: Any, pointer: str, value: Any) -> Any:
    """A copy of a JSON ``body`` with ``value`` at ``pointer``."""
    copy = json.loads(json.dumps(body))
    _set(copy, pointer, value)
    return copy
