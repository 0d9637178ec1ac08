"""What a check reports: capped failures, or a Skip saying what the target lacks."""

from __future__ import annotations

import requests

from contracts.http import Client
from contracts.results import RATE_LIMITED, Failure

MAX_FAILURES = 20


class Skip(Exception):
    """A check cannot run against this target (the reason says what it needs)."""


class Findings:
    """Failures of one check, capped so one systemic bug does not bury the report."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.items: list[Failure] = []
        self.dropped = 0

    def add(self, client: Client, message: str, response: requests.Response, *, rule: str = "") -> None:
        """Record a failure with a curl reproduction of ``response``'s request (under ``rule``, else the check's)."""
        if len(self.items) >= MAX_FAILURES:
            self.dropped += 1
            return
        self.items.append(client.failure(rule or self.rule, message, response))

    def note(self, message: str, *, rule: str = "") -> None:
        """Record a failure that no single response shows (under ``rule``, else the check's)."""
        if len(self.items) >= MAX_FAILURES:
            self.dropped += 1
            return
        self.items.append(Failure(rule or self.rule, message))

    def all(self) -> list[Failure]:
        """The failures, with a last line counting those left out."""
        if self.dropped:
            # When every finding shown was about a 429, the ones left out are taken to be 429s too.
            status = RATE_LIMITED if all(item.status == RATE_LIMITED for item in self.items) else None
            return [
                *self.items,
                Failure(self.rule, f"... and {self.dropped} more failure(s) of this rule", status=status),
            ]
        return self.items
