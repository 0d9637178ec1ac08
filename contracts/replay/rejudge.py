"""Re-run a Schemathesis response check, by name, on a replayed answer: the judgement the failure was found by.

Only checks that judge the answer alone are re-run (``judgement.RESPONSE_CHECKS``): those that need how a case was
generated (negative data, a missing header) or the run's other requests (stateful checks) are judged another
way (``contracts.replay.judgement``).
"""

from __future__ import annotations

from typing import Any

import requests
from schemathesis.checks import CHECKS
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure as CheckFailure
from schemathesis.core.failures import FailureGroup

from contracts.engine import SpecError, build_config, load
from contracts.replay.steps import Step
from contracts.target import Target


class CannotRejudge(Exception):
    """The check cannot be re-run here (the spec does not load, or no longer has the operation or the check)."""


def rejudged(check: str, operation: str, target: Target, step: Step, path: str, response: requests.Response) -> str:
    """Run ``check`` on ``response`` to ``step`` (sent to ``path``) of ``operation``; why it fails, '' if it holds."""
    try:
        schema = load(target, build_config(target, phases={}, max_examples=1))
    except SpecError as exc:
        raise CannotRejudge(str(exc)) from exc
    found = schema.find_operation_by_label(operation)
    if found is None or check not in CHECKS.get_all_names():
        raise CannotRejudge(f"the spec has no operation {operation!r} or Schemathesis no check {check!r}")
    check_function = CHECKS.get_one(check)
    if isinstance(check_function, type):  # a check class runs inside the engine only
        raise CannotRejudge(f"Schemathesis' {check} runs inside its engine only")
    case = found.Case(
        path_parameters=_path_parameters(found.path, path),
        query=dict(step.query) or None,
        headers=dict(step.headers) or None,
        body=step.body if step.body is not None else NOT_SET,
        media_type=step.content_type.split(";", 1)[0] or None if step.body is not None else None,
    )
    try:
        case.validate_response(response, checks=[check_function])
    except FailureGroup as group:
        return "; ".join(_line(failure) for failure in group.exceptions)
    except CheckFailure as failure:
        return _line(failure)
    return ""


def _path_parameters(template: str, path: str) -> dict[str, Any]:
    """``{"id": "5"}`` for ``/customers/{id}`` and ``/customers/5``."""
    found: dict[str, Any] = {}
    for pattern, value in zip(template.strip("/").split("/"), path.strip("/").split("/"), strict=False):
        if pattern.startswith("{") and pattern.endswith("}"):
            found[pattern[1:-1]] = value
    return found


def _line(failure: CheckFailure) -> str:
    title = str(getattr(failure, "title", "") or type(failure).__name__)
    message = str(getattr(failure, "message", "") or "").strip().splitlines()
    return f"{title}: {message[0]}" if message else title
