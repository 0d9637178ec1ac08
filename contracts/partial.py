"""What a check cut short by an interruption (Ctrl-C) may still claim: its findings, never a pass.

A failure found before the interruption is a real breach and stays one; an error stays one. A check that had
found nothing yet did not pass: it was judged on part of what it was to send, so it is skipped, saying which
part never ran and how many answers it saw. The suite itself is reported as interrupted (``contracts.runner``).
"""

from __future__ import annotations

from dataclasses import replace

from contracts.results import CheckResult, Outcome

INTERRUPTED = "interrupted (Ctrl-C)"
NOT_TESTED = "not tested"  # the reason of a check nothing was sent for (``contracts.engine``)


def unfinished(check: CheckResult, before: str, answered: int, why: str = INTERRUPTED) -> CheckResult:
    """``check`` as an interruption left it; ``before`` ends "interrupted before ...": what never ran.

    ``answered``: the answers it judged; ``why``: what cut it short (Ctrl-C, or ``contracts.budget.SPENT``). An
    empty ``before`` (nothing was left to run) keeps the check as it is.
    """
    if not before:
        return check
    never = f"{why} before {before}"
    if check.outcome is Outcome.PASSED:
        reason = f"not judged: {never} ({answered} answer(s) so far, none broke a rule)"
        return replace(check, outcome=Outcome.SKIPPED, reason=_join(check.reason, reason))
    if check.outcome is Outcome.SKIPPED:
        earlier = "" if check.reason == NOT_TESTED else check.reason
        return replace(check, reason=_join(earlier, f"not tested: {never}"))
    return replace(check, reason=_join(check.reason, f"partial: {never}"))


def phases(missing: list[str], *, reached: bool) -> str:
    """``its coverage and fuzzing phases ran`` (``it was reached`` when nothing ran; "" when none is missing)."""
    if not missing:
        return ""
    if not reached:
        return "it was reached"
    named = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
    return f"its {named} phase{'s' if len(missing) > 1 else ''} ran"


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
