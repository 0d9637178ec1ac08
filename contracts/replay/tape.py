"""The recent requests of one suite, kept cheaply (references, converted only when a failure needs them).

``contracts.http.Client.call`` records every exchange on its suite's tape (the ``Meter``'s); when a check
fails, ``contracts.replay.capture`` finds the failing request on it and keeps what that request needs. A
suite that shrinks (the rules state machine) marks where each run of a sequence begins (``begin``), so the
artefact is that run's steps, as Hypothesis shrank them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

WINDOW = 2000  # exchanges kept per suite (with their answers): a failing sequence is cut to its last WINDOW


@dataclass(frozen=True)
class Exchange:
    """One request as its caller made it (no credential: those are added per role) and the answer."""

    role: str | None
    method: str
    path: str
    params: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    json_body: Any
    response: requests.Response
    run: int  # which marked run of a sequence it belongs to (0: none was marked)
    base: str = ""  # the client's base URL, when it is not its suite's API (the sandbox's control surface)
    check: int = 0  # which check of the suite sent it (the checks handed over before it, see ``Tape.take``)


class Tape:
    """A bounded, thread-safe record of a suite's exchanges, in the order they were answered."""

    def __init__(self, window: int = WINDOW) -> None:
        self._lock = threading.Lock()
        self._exchanges: deque[Exchange] = deque(maxlen=window)
        self._run = 0
        self._in_run = False
        self._check = 0

    def record(
        self,
        role: str | None,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        json_body: Any,
        response: requests.Response,
        base: str = "",
    ) -> None:
        """Keep one answered request (``path`` under ``base``, the client's base URL)."""
        with self._lock:
            run = self._run if self._in_run else 0
            exchange = Exchange(role, method, path, params, headers, json_body, response, run, base, self._check)
            self._exchanges.append(exchange)

    def begin(self) -> None:
        """A new run of a generated sequence starts: its steps are replayed together, apart from earlier ones."""
        with self._lock:
            self._run += 1
            self._in_run = True

    def take(self) -> list[Exchange]:
        """The window, oldest first, at the end of a check (and of a marked run).

        Earlier checks' requests stay on it: a later check may use the records they created.
        """
        with self._lock:
            self._in_run = False
            self._check += 1
            return list(self._exchanges)
