"""Answers a client asked for with ``Prefer`` (``code``, ``example``, ``dynamic``), made from the spec alone.

As Prism does: ``code`` picks the documented response of that status (else its ``4XX`` range, else
``default``), ``example`` a named example of it (a lone ``example`` is named ``default``), ``dynamic``
fresh data faked from its schema; a named example wins over ``dynamic``. Without ``code`` the
operation's success response is used. Nothing here reads or writes the store: the answer is the spec's.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
from dataclasses import dataclass
from typing import Any

from mockserver.behaviours.context import Reply
from mockserver.errors import BadRequest
from mockserver.spec import Operation, SpecIndex
from mockserver.spec.conform import conform
from mockserver.spec.model import ResponseSpec
from mockserver.state.fake import FakeRecordFactory

_FAKE_IDS = 50  # a faked reference names a record id from 1 to this


@dataclass(frozen=True)
class Preferences:
    """What a client prefers: a status, a named example, fresh fake data (each unset when not asked for)."""

    code: int | None = None
    example: str | None = None
    dynamic: bool = False

    @property
    def asked(self) -> bool:
        """Whether the client asked for an answer from the spec rather than the sandbox's behaviour."""
        return self.code is not None or self.example is not None or self.dynamic


class PreferredAnswers:
    """Makes the answers ``Prefer`` asks for; one per app, its fake data seeded so a run repeats exactly."""

    def __init__(self, index: SpecIndex, seed: int, today: dt.date) -> None:
        self.index = index
        self.fake = FakeRecordFactory(seed, today)
        self._ids = random.Random(seed)  # noqa: S311 - repeatable fake ids, not security
        self._lock = threading.Lock()  # one draw at a time, so the n-th dynamic answer is the same in every run

    def answer(
        self, operation: Operation, preferences: Preferences, set_elsewhere: frozenset[str] = frozenset()
    ) -> Reply:
        """The documented response the preferences pick, or 400 naming what the operation documents instead.

        ``set_elsewhere`` names (lower case) the headers the server sets on every response itself.
        """
        status, response = self._response(operation, preferences.code)
        media = _media(response)
        headers = self._headers(response, set_elsewhere)
        if media is None:  # a response without a body (204): only the status and its headers
            if preferences.example is not None:
                raise BadRequest(_no_example(operation, status, preferences.example, "it documents no body"))
            return Reply(status, headers=headers)
        schema = response.content[media]
        if preferences.example is not None:
            named = response.examples.get(media) or {}
            if preferences.example not in named:
                raise BadRequest(_no_example(operation, status, preferences.example, _listed(named)))
            body = conform(copy.deepcopy(named[preferences.example]), schema)
        elif preferences.dynamic and schema is not None:
            body = self._faked(schema)
        else:
            body = conform(copy.deepcopy(response.example), schema)
            if body is None and schema is not None:
                body = self._faked(schema)
        if media.endswith("json"):
            return Reply(status, body, headers, content_type=media)
        raw = body if isinstance(body, bytes) else str("" if body is None else body).encode()
        return Reply(status, headers=headers, content_type=media, raw=raw)

    def _response(self, operation: Operation, code: int | None) -> tuple[int, ResponseSpec]:
        """The status to answer with and its documented response (the success response without a code)."""
        if code is None:
            return operation.success_status, operation.success
        responses = operation.responses
        documented = responses.get(str(code)) or responses.get(f"{str(code)[0]}XX") or responses.get("default")
        if documented is None:
            codes = ", ".join(sorted(responses))
            raise BadRequest(
                f"Prefer: code={code} asks for a response {operation.operation_id} does not document; "
                f"it documents {codes}."
            )
        return code, documented

    def _faked(self, schema: Any) -> Any:
        """Fresh data for a schema: every call draws anew, in the same order for the same seed."""
        with self._lock:
            return self.fake.value("response", schema, self._fake_id)

    def _fake_id(self, resource: str) -> int | str:
        """An id of the referenced resource's kind (a number, a uuid, a prefixed token), not looked up."""
        number = self._ids.randint(1, _FAKE_IDS)
        known = self.index.resources.get(resource)
        return number if known is None else known.identity.make(resource, 0, number)

    def redirect_headers(self, response: ResponseSpec) -> dict[str, str]:
        """A redirect's ``Location`` where its response documents one: its example, else faked from its schema."""
        for name, (_, schema) in response.headers.items():
            if name.lower() == "location":
                value = response.header_examples.get(name)
                return {name: str(value if value is not None else self._faked(schema))}
        return {}

    def _headers(self, response: ResponseSpec, set_elsewhere: frozenset[str]) -> dict[str, str]:
        """The headers the response requires and the server does not set itself: examples, else faked."""
        headers: dict[str, str] = {}
        for name, (required, schema) in response.headers.items():
            if not required or name.lower() in set_elsewhere:
                continue  # an optional header says something this answer did not do (Idempotent-Replayed)
            value = response.header_examples.get(name)
            if value is None:
                value = self._faked(schema)
            headers[name] = str(value).lower() if isinstance(value, bool) else str(value)
        return headers


def _media(response: ResponseSpec) -> str | None:
    """The media type to answer in: JSON when documented, else the first (None: no body)."""
    return next((m for m in response.content if m.endswith("json")), next(iter(response.content), None))


def _listed(named: dict[str, Any]) -> str:
    """The examples a response does document, for a message."""
    return f"its examples are {', '.join(named)}" if named else "it documents no examples"


def _no_example(operation: Operation, status: int, example: str, documented: str) -> str:
    """The message of a ``Prefer: example=`` the chosen response does not have, naming the codes that have it."""
    elsewhere = [
        code
        for code, response in operation.responses.items()
        if code != str(status) and any(example in named for named in response.examples.values())
    ]
    hint = f" The {' and '.join(elsewhere)} response has it: ask for code={elsewhere[0]} too." if elsewhere else ""
    return (
        f"Prefer: example={example} names no example of {operation.operation_id}'s {status} response; "
        f"{documented}.{hint}"
    )
