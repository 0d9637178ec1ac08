"""What a suite reports: checks, their outcome, and for each failure the rule broken and a reproduction."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """How one check ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Failure:
    """One broken rule: which, why, the request to replay (as curl) and what the target answered."""

    rule: str
    message: str
    reproduction: str = ""
    response: str = ""


@dataclass
class CheckResult:
    """One named check of a suite (e.g. ``rules/pagination`` or ``conformance/POST /invoices``)."""

    suite: str
    name: str
    outcome: Outcome
    failures: list[Failure] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0

    @property
    def rules(self) -> list[str]:
        """The rules this check found broken."""
        return [failure.rule for failure in self.failures]


@dataclass
class Report:
    """Every check of a run, in order."""

    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed (skipped checks do not fail a run)."""
        return all(check.outcome is not Outcome.FAILED for check in self.checks)

    def suites(self) -> list[str]:
        """Suite names in the order they ran."""
        return list(dict.fromkeys(check.suite for check in self.checks))

    def of(self, suite: str) -> list[CheckResult]:
        """The checks of one suite."""
        return [check for check in self.checks if check.suite == suite]

    def broken_rules(self) -> set[str]:
        """Every rule any check found broken."""
        return {rule for check in self.checks for rule in check.rules}
