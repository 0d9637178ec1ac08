"""Contract suites that prove an implementation of openapi.yaml honest, over HTTP only.

Nothing here imports ``mockserver``: the suites need the spec and a base URL, so they run the same
against the sandbox, a staging server or a real implementation.
"""

from __future__ import annotations

from contracts.results import CheckResult, Failure, Outcome, Report
from contracts.runner import run
from contracts.target import Keys, Target
from contracts.verdict import ExitCode, Verdict

__all__ = ["CheckResult", "ExitCode", "Failure", "Keys", "Outcome", "Report", "Target", "Verdict", "run"]
