"""What a run proved, as an exit code and one line saying why and what to do.

``0`` every check held and every suite really exercised the target; ``1`` the target broke the contract
(at least one real failure; it wins over "could not test", and the reason says both); ``2`` a usage error
(the CLI's, before anything runs); ``3`` could not test; ``130`` the run was interrupted (Ctrl-C, SIGINT): it
wins over every other code, since the run did not check all it was asked to, and the reason says what it
found before it stopped and which suites never started. A suite is *not exercised* when:

- it was interrupted: its checks are partial (a check cut short claims no pass, ``contracts.partial``);
- none of its requests got an HTTP answer, or more than ``UNANSWERED_SHARE`` of them got none;
- more than ``RATE_LIMITED_SHARE`` of its answers were 429 Too Many Requests;
- at least ``REFUSED_SHARE`` of the requests that carried a role's credential meant to be accepted (full,
  readonly, other) were refused with 401 (or 403 where the role may act): the suite tested the target's
  refusal, not the API; findings about those refusals are set aside (``set_aside_refusals``);
- none of its checks ran (all skipped), or one could not run (no answer, a spec that does not load);
- it passed checks without sending a single request.

The run is not tested at all when the first probe got no answer, or the setup hook failed.

A ``--budget`` that was spent is no problem by itself: a CI job asked for a bounded run. The checks it cut
short claim no pass (``contracts.partial``), the reason names the suites it cut short or never started, and a
run whose budget ran out before any check reached a verdict tested nothing (``3``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from contracts.meter import Counts
from contracts.partial import INTERRUPTED
from contracts.results import CheckResult, Failure, Outcome, Report, SuiteRun

RATE_LIMITED_SHARE = 0.5  # more than half the answers 429: the suite tested the rate limiter, not the API
UNANSWERED_SHARE = 0.5  # more than half the requests unanswered: the suite tested the network, not the API
REFUSED_SHARE = 0.9  # (nearly) every request with a valid-meant credential refused: the credential, not the API
REFUSALS = (401, 403)
RATE_LIMIT_ADVICE = "raise or lift its rate limit (mockserver --rate-limit N) or pass a key with a higher budget"
RERUN_ADVICE = "run it again to the end for a verdict"


class ExitCode(IntEnum):
    """The ``contracts run`` exit codes."""

    OK = 0
    BROKEN = 1
    USAGE = 2
    UNTESTED = 3
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped


@dataclass(frozen=True)
class Problem:
    """Why (part of) a run did not test the target, and what to do about it."""

    suite: str
    text: str
    advice: str = ""

    def line(self) -> str:
        """``text: advice``."""
        return f"{self.text}: {self.advice}" if self.advice else self.text


@dataclass(frozen=True)
class Verdict:
    """The exit code, the one-line reason, the failed checks and every part of the run that tested nothing."""

    code: ExitCode
    reason: str
    failed: list[str] = field(default_factory=list)
    untested: list[Problem] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``OK``, ``FAILED``, ``INTERRUPTED`` or ``NOT TESTED``."""
        labels = {ExitCode.OK: "OK", ExitCode.BROKEN: "FAILED", ExitCode.INTERRUPTED: "INTERRUPTED"}
        return labels.get(self.code, "NOT TESTED")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "exit_code": int(self.code),
            "status": self.label.lower(),
            "reason": self.reason,
            "failed_checks": list(self.failed),
            "not_tested": [{"suite": p.suite, "reason": p.line()} for p in self.untested],
        }


def judge(report: Report) -> Verdict:
    """The verdict on ``report``: an interruption first, then a real breach, then what kept the run from testing."""
    untested: list[Problem] = []
    if report.unreachable:
        untested.append(Problem("target", report.unreachable))
    if report.interrupted and report.run_of(report.interrupted) is None:
        untested.append(Problem(report.interrupted, f"{INTERRUPTED} during {_stage(report)}", RERUN_ADVICE))
    for suite in report.suites():
        untested.extend(problems(suite, report.of(suite), report.run_of(suite)))
    if report.interrupted:
        untested.extend(
            Problem(name, f"{name} never started: {INTERRUPTED} first", RERUN_ADVICE) for name in report.not_run()
        )
    if report.budget and (report.over_budget or any(run.cut for run in report.runs)) and not _ran(report.checks):
        text = f"the budget ({report.budget.get('limit')}) was spent before any check reached a verdict"
        untested.append(Problem("budget", text, "raise --budget, or narrow the run with --suite or --operations"))
    failed = [check for check in report.checks if check.outcome is Outcome.FAILED]
    names = [_qualified(check) for check in failed]
    if report.interrupted:
        return Verdict(ExitCode.INTERRUPTED, _cut_short(report, failed), names, untested)
    if failed:
        reason = f"the target broke the contract: {_breaches(report, failed)}"
        if untested:
            reason += f"; and could not test: {_summary(untested)}"
        return Verdict(ExitCode.BROKEN, reason + _over_budget(report), names, untested)
    if untested:
        return Verdict(ExitCode.UNTESTED, _summary(untested) + _over_budget(report), names, untested)
    return Verdict(ExitCode.OK, _held(report) + _over_budget(report))


def _over_budget(report: Report) -> str:
    """What a spent ``--budget`` left unchecked ("" when the run had none, or finished within it)."""
    cut = [run.name for run in report.runs if run.cut]
    if not report.budget or not (cut or report.over_budget):
        return ""
    text = f"; the budget ({report.budget.get('limit')}) was spent"
    text += f": cut short {', '.join(cut)} (its checks cut short claim no pass)" if cut else ""
    text += f"; never started: {', '.join(report.over_budget)}" if report.over_budget else ""
    return text


def problems(suite: str, checks: list[CheckResult], run: SuiteRun | None) -> list[Problem]:
    """Why ``suite`` did not exercise the target (empty when it did)."""
    found: list[Problem] = []
    if run is not None and run.interrupted:
        found.append(Problem(suite, _interrupted(suite, checks, run), RERUN_ADVICE))
    if run is not None:
        found.extend(_traffic(suite, run.requests, ran=_ran(checks)))
    errors = [check for check in checks if check.outcome is Outcome.ERROR]
    if suite == "setup" and errors:
        found.append(Problem(suite, f"the setup hook failed ({_why(errors[0])})", "fix it, or run without --setup"))
    elif errors and not found:
        shown = "; ".join(f"{check.name}: {_why(check)}" for check in errors[:2])
        more = f" (+{len(errors) - 2} more)" if len(errors) > 2 else ""
        found.append(Problem(suite, f"{len(errors)} check(s) of {suite} could not run ({shown}{more})"))
    cut = run is not None and run.cut  # cut by the --budget: the verdict's reason says so (see ``_over_budget``)
    if checks and not _ran(checks) and not found and not cut:  # (an interrupted suite has said why already)
        reasons = "; ".join(dict.fromkeys(check.reason for check in checks if check.reason)) or "no reason given"
        found.append(Problem(suite, f"every check of {suite} was skipped ({_short(reasons)})", "give it what it needs"))
    return found


def _traffic(suite: str, counts: Counts, *, ran: bool) -> list[Problem]:
    if counts.made and not counts.answered:
        return [
            Problem(
                suite,
                f"none of the {counts.made} requests of {suite} got an answer ({_no_answer(counts)})",
                "is the target running? check --base-url",
            )
        ]
    if counts.answered and counts.rate_limited > RATE_LIMITED_SHARE * counts.answered:
        return [
            Problem(
                suite,
                f"{suite}: target answered 429 to {counts.rate_limited} of {counts.made} requests",
                RATE_LIMIT_ADVICE,
            )
        ]
    if counts.made and counts.unanswered > UNANSWERED_SHARE * counts.made:
        advice = (
            "is the target overloaded or too slow?"
            if counts.no_answer.get("timeout", 0) >= counts.unanswered / 2
            else "did it crash or restart mid-run?"
        )
        text = f"{counts.unanswered} of the {counts.made} requests of {suite} got no answer ({_no_answer(counts)})"
        return [Problem(suite, text, advice)]
    refusals = [_refusal(suite, role, counts.credentials[role]) for role in refused_roles(counts)]
    if refusals:
        return refusals
    if ran and not counts.made:
        return [Problem(suite, f"{suite} passed checks without sending a single request")]
    return []


def refused_roles(counts: Counts) -> list[str]:
    """The roles whose credential the target refused on (nearly) every request that carried it."""
    return [
        role
        for role, tally in counts.credentials.items()
        if tally["sent"] and tally["refused"] >= REFUSED_SHARE * tally["sent"]
    ]


def _refusal(suite: str, role: str, tally: dict[str, object]) -> Problem:
    sent, refused = tally["sent"], tally["refused"]
    statuses = tally["statuses"] if isinstance(tally["statuses"], dict) else {}
    codes = " or ".join(sorted(statuses))
    share = f"every request ({sent})" if refused == sent else f"{refused} of the {sent} requests"
    text = (
        f"{suite}: the target refused the {role} credential: {share} that carried it was answered {codes}; "
        f"it was sent as {tally['how']} (first: {tally['first_refusal']})"
    )
    return Problem(suite, text, str(tally.get("hint") or f"check the {role} key (--key {role}=...)"))


def set_aside_refusals(check: CheckResult, counts: Counts) -> CheckResult:
    """``check`` without findings about 401/403 answers once a role's credential was refused (nearly) always.

    The target refusing a valid-meant key says nothing about the API: a check left with no other finding is
    skipped, saying why, never counted as failed (nor passed).
    """
    roles = refused_roles(counts)
    if check.outcome is not Outcome.FAILED or not roles:
        return check
    kept: list[Failure] = [failure for failure in check.failures if failure.status not in REFUSALS]
    if len(kept) == len(check.failures):
        return check
    note = (
        f"{len(check.failures) - len(kept)} finding(s) about 401/403 answers set aside: the target refused the "
        f"{' and '.join(roles)} credential on (nearly) every request"
    )
    reason = "; ".join(part for part in (check.reason, note) if part)
    outcome = Outcome.FAILED if kept else Outcome.SKIPPED
    return CheckResult(check.suite, check.name, outcome, kept, reason, check.seconds)


def _qualified(check: CheckResult) -> str:
    """``suite/name`` (security checks are already named ``security/...``)."""
    return check.name if check.name.startswith(f"{check.suite}/") else f"{check.suite}/{check.name}"


def _ran(checks: list[CheckResult]) -> bool:
    return any(check.outcome in (Outcome.PASSED, Outcome.FAILED) for check in checks)


def _why(check: CheckResult) -> str:
    text = check.failures[0].message if check.failures else check.reason
    return _short(text.splitlines()[0] if text else "no reason given")


def _no_answer(counts: Counts) -> str:
    kinds = ", ".join(f"{kind} {n}" for kind, n in counts.no_answer.items() if n)
    return f"{kinds}; first: {counts.first_error}" if counts.first_error else kinds


def _short(text: str, size: int = 240) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def _summary(untested: list[Problem]) -> str:
    more = f" (and {len(untested) - 1} more problem(s), listed above)" if len(untested) > 1 else ""
    return untested[0].line() + more


def _held(report: Report) -> str:
    passed = sum(check.outcome is Outcome.PASSED for check in report.checks)
    skipped = sum(check.outcome is Outcome.SKIPPED for check in report.checks)
    answered = sum(run.requests.answered for run in report.runs)
    made = sum(run.requests.made for run in report.runs)
    traffic = f"; {answered} of {made} requests answered" if report.runs else ""
    return f"every check held ({passed} passed, {skipped} skipped{traffic})"


def _breaches(report: Report, failed: list[CheckResult]) -> str:
    rules = sorted(report.broken_rules())
    return f"{len(failed)} check(s) failed ({', '.join(rules[:6])}" + (", ...)" if len(rules) > 6 else ")")


def _interrupted(suite: str, checks: list[CheckResult], run: SuiteRun) -> str:
    """What an interrupted suite sent, and how many of its checks reached a verdict before it stopped."""
    judged = sum(check.outcome in (Outcome.PASSED, Outcome.FAILED) for check in checks)
    failed = sum(check.outcome is Outcome.FAILED for check in checks)
    return (
        f"{suite} was {INTERRUPTED} after {run.requests.made} request(s): its results are partial "
        f"({judged} of its {len(checks)} check(s) reached a verdict, {failed} failed; the others claim no pass)"
    )


def _cut_short(report: Report, failed: list[CheckResult]) -> str:
    """Where the run stopped, what it found by then, and what never ran."""
    reason = f"the run was {INTERRUPTED} during {_stage(report)}, so it checked only part of what it was to"
    reason += f"; it found the target broke the contract: {_breaches(report, failed)}" if failed else ""
    reason += "; no check found a breach before it stopped" if not failed else ""
    never = report.not_run()
    reason += f"; never started: {', '.join(never)}" if never else ""
    return reason


def _stage(report: Report) -> str:
    """``the conformance suite``, ``the first probe`` or ``the setup hook``: where the run was interrupted."""
    stages = {"probe": "the first probe", "setup": "the setup hook"}
    return stages.get(report.interrupted, f"the {report.interrupted} suite")
