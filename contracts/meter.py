"""What one suite sent and what came back, counted at the transport, so a run never claims more than it checked.

Every request a suite sends goes through one of two doors: ``contracts.http.Client.call`` (the rules and
security suites) or Schemathesis's ``case.call`` (conformance and stateful, counted by schema-scoped
``after_call`` / ``after_network_error`` hooks that ``contracts.engine`` registers). Both report here, to the
``Meter`` of the suite's ``Target``; the runner gives each suite a fresh one, so nothing is counted globally.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from contracts.replay.tape import Tape

STATUS_CLASSES = ("2xx", "3xx", "4xx", "429", "5xx")  # "4xx" excludes 429, so the classes add up to `answered`
NO_ANSWER_KINDS = ("connection", "timeout", "other")
THROTTLE_STREAK = 25  # after this many 429s in a row a Client stops sending: the target is rate-limiting the suite

_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


@dataclass(frozen=True)
class Carried:
    """A request that carried a credential meant to be accepted: whose, how it was sent, and whether it was refused.

    ``detail`` describes a refusal (the request, the status, the target's ``WWW-Authenticate``), already
    redacted; ``hint`` says what to do when the role's every request is refused.
    """

    role: str
    how: str
    refused: bool
    detail: str = ""
    hint: str = ""


class Throttled(requests.RequestException):
    """Raised instead of sending once the target has answered 429 to THROTTLE_STREAK requests in a row."""


def no_answer_kind(error: BaseException | None) -> str:
    """Classify a transport error: ``timeout``, ``connection`` (refused, reset, DNS) or ``other``."""
    if isinstance(error, requests.Timeout | TimeoutError):
        return "timeout"
    if isinstance(error, requests.ConnectionError | ConnectionError):
        return "connection"
    return "other"


def cause(error: BaseException) -> str:
    """The short reason of a transport error (``[Errno 111] Connection refused``), else its text."""
    text = str(error)
    found = _ERRNO.search(text)
    if found:
        return found.group(0).strip()
    if isinstance(error, requests.Timeout):
        return "timed out"
    return text[:200] or type(error).__name__


@dataclass(frozen=True)
class Counts:
    """A snapshot of a Meter: requests made, answers by status class, and requests that got no answer."""

    made: int = 0
    answered: int = 0
    status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_CLASSES, 0))
    no_answer: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NO_ANSWER_KINDS, 0))
    first_error: str = ""
    # Per role whose credential is meant to be accepted: requests that carried it ("sent"), how many of them were
    # refused (401, or 403 where the role may act) and with which statuses, how it was sent, the first refusal.
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def rate_limited(self) -> int:
        """Answers that were 429 Too Many Requests."""
        return self.status.get("429", 0)

    @property
    def unanswered(self) -> int:
        """Requests that got no HTTP answer at all (connection refused, timeout, ...)."""
        return sum(self.no_answer.values())

    def as_dict(self) -> dict[str, object]:
        """The counts as plain JSON-ready values."""
        return {
            "made": self.made,
            "answered": self.answered,
            "status": dict(self.status),
            "no_answer": dict(self.no_answer),
            "first_error": self.first_error,
            "credentials": {
                role: {k: v for k, v in tally.items() if k != "hint"} for role, tally in self.credentials.items()
            },
        }


def status_class(status: int) -> str:
    """``2xx`` ... ``5xx``, with 429 on its own; anything else (1xx, 6xx) is ``other``."""
    if status == 429:
        return "429"
    return f"{status // 100}xx" if 200 <= status < 600 else "other"


class Meter:
    """Live counts of one suite: every request and its answer, the check in flight, failures found so far.

    ``listener`` (if any) is called after every change, from whichever thread made it, for progress output.
    """

    def __init__(self, listener: Callable[[Meter], None] | None = None) -> None:
        self.listener = listener
        self.activity = ""
        self.failures = 0
        self._lock = threading.Lock()
        self._made = 0
        self._answered = 0
        self._status: dict[str, int] = dict.fromkeys(STATUS_CLASSES, 0)
        self._no_answer: dict[str, int] = dict.fromkeys(NO_ANSWER_KINDS, 0)
        self._first_error = ""
        self._streak = 0
        self._credentials: dict[str, dict[str, Any]] = {}
        self.tape = Tape()  # the suite's recent exchanges, for failures' replay artefacts

    def answered(self, status: int, carried: Carried | None = None) -> None:
        """Count one request that got an HTTP answer (and whether it refused the role's credential it carried)."""
        with self._lock:
            self._made += 1
            self._answered += 1
            kind = status_class(status)
            self._status[kind] = self._status.get(kind, 0) + 1
            self._streak = self._streak + 1 if status == 429 else 0
            if carried is not None:
                self._tally(carried, status)
        self._changed()

    def _tally(self, carried: Carried, status: int) -> None:
        tally = self._credentials.setdefault(
            carried.role,
            {"sent": 0, "refused": 0, "statuses": {}, "how": carried.how, "first_refusal": "", "hint": carried.hint},
        )
        tally["sent"] += 1
        if carried.refused:
            tally["refused"] += 1
            tally["statuses"][str(status)] = tally["statuses"].get(str(status), 0) + 1
            if not tally["first_refusal"]:
                tally["first_refusal"], tally["how"], tally["hint"] = carried.detail, carried.how, carried.hint

    def unanswered(self, error: BaseException | None, what: str = "") -> None:
        """Count one request that got no answer (the transport raised ``error``)."""
        with self._lock:
            self._made += 1
            self._no_answer[no_answer_kind(error)] += 1
            if not self._first_error:
                reason = cause(error) if error is not None else "no answer"
                self._first_error = f"{what}: {reason}" if what else reason
        self._changed()

    def now(self, activity: str) -> None:
        """Name the check (or operation) in flight, for progress lines."""
        self.activity = activity
        self._changed()

    def found(self, failures: int) -> None:
        """Add failures a check found (shown live; the report's checks are the record)."""
        if failures:
            with self._lock:
                self.failures += failures
            self._changed()

    def absorb(self, counts: Counts) -> None:
        """Add what another meter counted (a worker process's, ``contracts.workers``) to this one."""
        with self._lock:
            self._made += counts.made
            self._answered += counts.answered
            for kind, n in counts.status.items():
                self._status[kind] = self._status.get(kind, 0) + n
            for kind, n in counts.no_answer.items():
                self._no_answer[kind] = self._no_answer.get(kind, 0) + n
            self._first_error = self._first_error or counts.first_error
            for role, theirs in counts.credentials.items():
                tally = self._credentials.setdefault(role, {**theirs, "sent": 0, "refused": 0, "statuses": {}})
                tally["sent"] += theirs["sent"]
                tally["refused"] += theirs["refused"]
                for status, n in theirs["statuses"].items():
                    tally["statuses"][status] = tally["statuses"].get(status, 0) + n
                if not tally["first_refusal"] and theirs["first_refusal"]:
                    tally["first_refusal"], tally["how"] = theirs["first_refusal"], theirs["how"]
                    tally["hint"] = theirs.get("hint", tally.get("hint", ""))
        self._changed()

    @property
    def made(self) -> int:
        """Requests counted so far (answered or not)."""
        return self._made

    @property
    def throttled(self) -> bool:
        """Whether the last THROTTLE_STREAK answers were all 429: sending more only spends time."""
        return self._streak >= THROTTLE_STREAK

    def counts(self) -> Counts:
        """A consistent snapshot."""
        with self._lock:
            credentials = {
                role: {**tally, "statuses": dict(tally["statuses"])} for role, tally in self._credentials.items()
            }
            return Counts(
                self._made, self._answered, dict(self._status), dict(self._no_answer), self._first_error, credentials
            )

    def _changed(self) -> None:
        if self.listener is not None:
            self.listener(self)
