"""One run of the rate-limit suite: the key and operation it spends, each answer timed, and what it learnt."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import requests

from contracts import checking
from contracts.checking import Skip
from contracts.http import Client, curl, describe
from contracts.ratelimit.headers import Reading, read, retry_after, seconds
from contracts.ratelimit.spec import LIMITED, Probe
from contracts.results import Failure
from contracts.security.spec_view import Spec
from contracts.target import Target

ROLES = ("readonly", "full")  # the key spent: the one the other suites use least, when it can call the operation
ROUNDING = 1.0  # seconds: whole-second headers may be off by up to one either way


@dataclass(frozen=True)
class Answer:
    """One request: the answer, what each header family says, when it was sent and answered (monotonic seconds)."""

    response: requests.Response
    readings: dict[str, Reading]  # by header family
    primary: str  # the family the suite goes by (the first documented one that says what is left)
    sent: float
    received: float

    @property
    def reading(self) -> Reading:
        """What the primary family says."""
        return self.readings[self.primary]

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.response.status_code

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    def retry_after(self) -> float | None:
        """Its ``Retry-After`` in seconds (None when absent or unreadable)."""
        return retry_after(self.response.headers, dt.datetime.now(dt.UTC))

    def announced(self) -> float | None:
        """How long until the budget is back, by the longest of ``Retry-After`` and the reset header."""
        known = [v for v in (self.retry_after(), self.reading.reset) if v is not None]
        return max(known) if known else None


def window_may_end(before: Answer, after: Answer, family: str | None = None) -> bool:
    """Whether a window could have ended between two answers: ``before``'s reset had (about) passed by ``after``."""
    reset = before.readings[family or before.primary].reset
    if reset is None:
        return True
    return after.received >= before.sent + reset - ROUNDING


@dataclass
class Session:
    """The suites' shared context (target, spec, clients), the operation and key spent, the options, the answers."""

    shared: checking.Context
    probe: Probe
    budget: int  # most requests the suite sends to reach the limit
    wait: float  # most seconds it waits for a window to reset
    role: str | None = None
    client: Client | None = None
    last: Answer | None = None  # the last 2xx answer
    limited: Answer | None = None  # the 429 that ``limited`` reached
    limited_reason: str = ""  # why ``limited`` reached none
    sent: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def target(self) -> Target:
        """The implementation under test."""
        return self.shared.target

    @property
    def spec(self) -> Spec:
        """The contract."""
        return self.shared.spec

    def start(self) -> Answer:
        """The first answer, with a key that can call the operation (``Skip`` when none can, or it stays 429)."""
        roles: tuple[str | None, ...] = (None,) if self.probe.op.public else ROLES
        refused: list[str] = []
        for role in roles:
            if role is not None and not self.target.keys.get(role):
                continue
            self.role, self.client = role, self.shared.client(role)
            first = self.hit()
            try:
                first = self._after_limit(first) if first.status == LIMITED else first
            except Skip as skip:
                refused.append(f"{role or 'no key'}: {skip}")
                continue
            if first.ok:
                return first
            refused.append(f"{role or 'no key'}: {first.status}")
        if not refused:
            raise Skip("needs a key to call the operation (--key readonly=... or --key full=...)")
        raise Skip(f"{self.name} did not answer 2xx ({'; '.join(refused)}): no budget to observe")

    def _after_limit(self, first: Answer) -> Answer:
        """The key is spent already: wait for its reset if that is soon enough, else skip."""
        announced = first.announced()
        if announced is None:
            raise Skip("the key is rate-limited already, and the 429 does not say for how long")
        if announced > self.wait:
            limit = f"more than --ratelimit-wait {self.wait:g} s"
            raise Skip(f"the key is rate-limited already for {seconds(announced)} s, {limit}")
        time.sleep(max(0.0, first.received + announced + ROUNDING - time.monotonic()))
        return self.hit()

    @property
    def primary(self) -> str:
        """The header family the suite goes by: the first documented one that says how many requests are left."""
        return next(iter(self.probe.remaining_headers), self.probe.families[0])

    @property
    def name(self) -> str:
        """``GET /path``."""
        return f"{self.probe.op.method} {self.probe.op.path}"

    @property
    def who(self) -> str:
        """The key spent, for reasons and messages."""
        return f"the {self.role} key" if self.role else "no key (the budget of this address)"

    def hit(self) -> Answer:
        """Call the operation once, timed."""
        if self.client is None:
            self.client = self.shared.client(self.role)
        sent = time.monotonic()
        response = self.client.call(self.probe.op.method, self.probe.op.path)
        now = time.time()
        readings = {family: read(response.headers, now, family) for family in self.probe.families}
        answer = Answer(response, readings, self.primary, sent, time.monotonic())
        self.sent += 1
        if answer.ok:
            self.last = answer
        return answer

    def failure(self, rule: str, message: str, answer: Answer) -> Failure:
        """A finding about ``answer``, whatever its status (a 429 here is the subject, not a reason to stop)."""
        response = answer.response
        return Failure(rule, message, curl(response.request, self.target), describe(response), None)
