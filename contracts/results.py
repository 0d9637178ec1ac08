"""What a suite reports: checks, their outcome, and for each failure the rule broken and a reproduction."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from contracts.meter import Counts

if TYPE_CHECKING:
    from contracts.replay.artefact import Artefact
    from contracts.runinfo import RunInfo
    from contracts.verdict import Verdict

NO_ANSWER = 0  # Failure.status when the request got no HTTP answer at all
RATE_LIMITED = 429


class Outcome(StrEnum):
    """How one check ended."""

    PASSED = "passed"
    FAILED = "failed"  # the target broke a rule
    SKIPPED = "skipped"  # the check did not apply (a role or endpoint missing, every answer 429)
    ERROR = "error"  # the check could not run (no answer, a spec that does not load, a failed setup hook)


@dataclass(frozen=True)
class Failure:
    """One broken rule: which, why, the request to replay (as curl), what the target answered, its artefact.

    ``status`` is the HTTP status of the answer the failure judged (``NO_ANSWER``: none came; None: the
    failure is not about one answer), so a finding about a 429 is never mistaken for a breach.
    """

    rule: str
    message: str
    reproduction: str = ""
    response: str = ""
    status: int | None = None
    # The minimal sequence that reproduces it, for ``contracts replay`` (None: nothing to replay).
    replay: Artefact | None = field(default=None, compare=False)


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


def judged(suite: str, name: str, failures: list[Failure], *, reason: str = "", seconds: float = 0.0) -> CheckResult:
    """A hand-written check's result: a finding about a 429 or a missing answer is no verdict on the target.

    Real findings fail the check; when only 429 answers were found wanting it is skipped (rate-limited, not
    tested), when requests got no answer it is an error (could not test). The set-aside count goes to ``reason``.
    """
    real = [f for f in failures if f.status not in (RATE_LIMITED, NO_ANSWER)]
    limited = [f for f in failures if f.status == RATE_LIMITED]
    unanswered = [f for f in failures if f.status == NO_ANSWER]
    notes = [reason] if reason else []
    if limited:
        notes.append(
            f"{len(limited)} finding(s) about 429 Too Many Requests answers not counted, the target rate-limited "
            f"(first: {_first_line(limited[0].message)})"
        )
    if unanswered:
        notes.append(f"{len(unanswered)} request(s) got no answer: {_first_line(unanswered[0].message)}")
    text = "; ".join(notes)
    if real:
        return CheckResult(suite, name, Outcome.FAILED, real, text, seconds)
    if unanswered:
        return CheckResult(suite, name, Outcome.ERROR, unanswered, text, seconds)
    if limited:
        return CheckResult(suite, name, Outcome.SKIPPED, [], text, seconds)
    return CheckResult(suite, name, Outcome.PASSED, [], text, seconds)


def _first_line(text: str, size: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= size else line[: size - 3] + "..."


@dataclass(frozen=True)
class SuiteRun:
    """One suite as it ran: how long, what it sent and got back, and whether it was cut short (Ctrl-C)."""

    name: str
    seconds: float
    requests: Counts
    interrupted: bool = False
    cut: bool = False  # the run's --budget was spent while it ran: it stopped early, its checks say what is partial


@dataclass
class Report:
    """Every check of a run, in order, with what each suite sent and the run's metadata."""

    checks: list[CheckResult] = field(default_factory=list)
    runs: list[SuiteRun] = field(default_factory=list)
    info: RunInfo | None = None
    unreachable: str = ""  # why the first probe got no answer (nothing else ran)
    interrupted: str = ""  # where the run was cut short (Ctrl-C): a suite, "probe" or "setup"; "" ran to its end
    budget: dict[str, object] = field(default_factory=dict)  # --budget: the limit and what was spent ({}: none)
    over_budget: list[str] = field(default_factory=list)  # the suites that never started: the budget was spent

    @property
    def verdict(self) -> Verdict:
        """What the run proved: exit code and why (see ``contracts.verdict``)."""
        from contracts.verdict import judge  # judge reads Reports: imported here so the modules stay one-way

        return judge(self)

    @property
    def ok(self) -> bool:
        """True only when every check held *and* the target was really exercised (exit code 0)."""
        return self.verdict.code == 0

    def suites(self) -> list[str]:
        """Suite names in the order they ran."""
        return list(dict.fromkeys([*(check.suite for check in self.checks), *(run.name for run in self.runs)]))

    def of(self, suite: str) -> list[CheckResult]:
        """The checks of one suite."""
        return [check for check in self.checks if check.suite == suite]

    def run_of(self, suite: str) -> SuiteRun | None:
        """What one suite sent, if it ran under the runner."""
        return next((run for run in self.runs if run.name == suite), None)

    def not_run(self) -> list[str]:
        """The suites the run was to run but never started (it was interrupted first)."""
        planned = self.info.suites if self.info is not None else []
        started = {run.name for run in self.runs}
        return [name for name in planned if name not in started]

    def broken_rules(self) -> set[str]:
        """Every rule a failed check found broken."""
        return {rule for check in self.checks if check.outcome is Outcome.FAILED for rule in check.rules}
