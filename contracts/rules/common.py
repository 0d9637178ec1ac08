"""Plumbing of the rules checks: violations, a logged client, body readers.

``Skip`` and ``Broken`` are the suites' shared ones (``contracts.checking``), named here too for the rules modules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import requests

from contracts.checking import Broken as Broken
from contracts.checking import Skip as Skip
from contracts.http import Client
from contracts.results import Failure

MISSING = (404, 405, 501)  # statuses that mean the target lacks the endpoint (the check is skipped)
MAX_WAIT = 5.0  # seconds: a 429 whose Retry-After is longer is not waited out (a check would take hours)


class Violation(AssertionError):
    """A rule the state machine found broken; one subclass per rule, so Hypothesis tells bugs apart."""

    def __init__(self, failure: Failure, calls: Sequence[str] = ()) -> None:
        super().__init__(f"{failure.rule}: {failure.message}")
        self.failure = failure
        self.calls = list(calls)


_VIOLATIONS: dict[str, type[Violation]] = {}


def violation(failure: Failure, calls: Sequence[str] = ()) -> Violation:
    """A Violation of the class kept for ``failure.rule``."""
    kind = _VIOLATIONS.get(failure.rule)
    if kind is None:
        name = "".join(part.capitalize() for part in failure.rule.replace(".", "_").split("_")) + "Violation"
        kind = _VIOLATIONS.setdefault(failure.rule, type(name, (Violation,), {}))
    return kind(failure, calls)


class Api:
    """The full-key client with a call log (``METHOD path body -> status``) and patience for a short 429."""

    def __init__(self, client: Client, log: list[str] | None = None) -> None:
        self.client = client
        self.log = log

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """Send one request (retrying a few times after a 429 that asks to wait at most MAX_WAIT) and log it."""
        for attempt in range(4):
            response = self.client.call(method, path, json_body=body, params=params)
            if response.status_code != 429 or attempt == 3:
                break
            try:
                wait = float(response.headers.get("Retry-After") or 1)
            except ValueError:
                wait = 1.0
            if wait > MAX_WAIT:
                break
            time.sleep(max(wait, 0.1))
        if self.log is not None:
            query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
            sent = " " + _short(json.dumps(body, default=str), 240) if body is not None else ""
            self.log.append(f"{method} {path}{query}{sent} -> {response.status_code}")
        return response

    def failure(self, rule: str, message: str, response: requests.Response) -> Failure:
        """A Failure carrying the request as curl and the answer."""
        return self.client.failure(rule, message, response)


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def payload(response: requests.Response) -> Any:
    """The JSON body, or None."""
    try:
        return response.json()
    except ValueError:
        return None


def data_of(response: requests.Response) -> Any:
    """The ``data`` member of a JSON body (None when absent)."""
    body = payload(response)
    return body.get("data") if isinstance(body, dict) else None


def message_of(response: requests.Response) -> str:
    """The error message of an error body ('' when absent)."""
    body = payload(response)
    return str(body.get("message") or "") if isinstance(body, dict) else ""


def rows_of(response: requests.Response) -> list[dict[str, Any]]:
    """The records of a list page."""
    data = data_of(response)
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


def ids_of(rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The ids of records, in order."""
    return [row.get("id") for row in rows]


def same_number(value: Any, expected: Decimal) -> bool:
    """A JSON number equals a Decimal exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        return Decimal(str(value)) == expected
    except ArithmeticError:
        return False
