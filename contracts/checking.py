"""The one check interface of the hand-written suites: what a check found, why it could not run, what it shares.

- ``Findings``: the failures one check found, capped so one systemic bug does not bury the report.
- ``Skip``: the target lacks something a check needs (the check is SKIPPED, the message says what).
- ``Broken``: a check cannot go on, the target broke a rule on the way (the check FAILED with that failure).
- ``Context``: what every check of one suite run shares (the target, its spec, seeded randomness, a client per
  role). A suite's own context holds one and adds what only it needs (the rules suite the target's today, the
  security suite the records it made).
"""

from __future__ import annotations

import random
from functools import cached_property
from typing import TYPE_CHECKING

import requests

from contracts.http import Client
from contracts.results import RATE_LIMITED, Failure
from contracts.target import Target

if TYPE_CHECKING:
    from contracts.security.spec_view import Spec

MAX_FAILURES = 20  # failures one check reports at most, unless it says otherwise


class Skip(Exception):
    """The target lacks something a check needs (the check is SKIPPED; the message says what it needs)."""


class Broken(Exception):
    """A check cannot go on: the target broke a rule on the way (the check FAILED with ``failure``)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Findings:
    """The failures of one check (under ``rule`` unless a finding names its own), capped.

    ``limit`` caps the check as a whole, ``per_rule`` each rule (None: no cap). With ``tally``, a last line counts
    those left out: one per rule when capped per rule, else one under the check's rule.
    """

    def __init__(
        self,
        rule: str = "",
        client: Client | None = None,
        *,
        limit: int | None = MAX_FAILURES,
        per_rule: int | None = None,
        tally: bool = True,
    ) -> None:
        self.rule = rule
        self.client = client
        self.limit = limit
        self.per_rule = per_rule
        self.tally = tally
        self.items: list[Failure] = []
        self.dropped: dict[str, int] = {}

    def add(
        self, rule: str, message: str, response: requests.Response | None = None, *, client: Client | None = None
    ) -> None:
        """Record a broken ``rule`` ("" for the check's own); with ``response``, its request as curl and the answer."""
        rule = rule or self.rule
        if response is None:
            self.keep(Failure(rule, message))
            return
        sender = client or self.client
        if sender is None:
            raise ValueError("a finding about a response needs the client that sent it")
        self.keep(sender.failure(rule, message, response))

    def keep(self, failure: Failure) -> None:
        """Record a failure built elsewhere, unless the check or its rule has all it may show."""
        full = self.limit is not None and len(self.items) >= self.limit
        if self.per_rule is not None:
            full = full or sum(1 for item in self.items if item.rule == failure.rule) >= self.per_rule
        if full:
            counted = failure.rule if self.per_rule is not None else self.rule
            self.dropped[counted] = self.dropped.get(counted, 0) + 1
            return
        self.items.append(failure)

    @property
    def failures(self) -> list[Failure]:
        """The failures, then (with ``tally``) a line per rule counting those left out."""
        if not self.tally:
            return list(self.items)
        return [*self.items, *(self._left_out(rule, count) for rule, count in self.dropped.items())]

    def _left_out(self, rule: str, count: int) -> Failure:
        # When every finding shown (of that rule) was about a 429, the ones left out are taken to be 429s too.
        shown = [item for item in self.items if self.per_rule is None or item.rule == rule]
        status = RATE_LIMITED if shown and all(item.status == RATE_LIMITED for item in shown) else None
        return Failure(rule, f"... and {count} more failure(s) of this rule", status=status)


class Context:
    """What every check of one suite run shares: the target, its spec, randomness from the seed, a client per role."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.rng = random.Random(target.seed)  # noqa: S311 - reproducible test data, not cryptography
        self.clients: dict[str | None, Client] = {}

    @cached_property
    def spec(self) -> Spec:
        """The contract, read once per run."""
        from contracts.security.spec_view import Spec  # the security package imports this module

        return Spec.load(self.target.spec_path)

    def has(self, role: str) -> bool:
        """Whether the target has a key for ``role``."""
        return bool(self.target.keys.get(role))

    def client(self, role: str | None) -> Client:
        """The client of ``role`` (None: no key), one per role and run, its session reused."""
        if role not in self.clients:
            self.clients[role] = Client(self.target, role)
        return self.clients[role]
