"""Bound the coverage phase by ``--max-examples``: it runs on an operation only when its cases fit the bound.

Schemathesis's coverage phase enumerates every boundary case an operation's schemas define, and
``max-examples`` has no effect on it (Schemathesis refuses the setting there). A deep, recursive request body
enumerates without end in practice: Xero's ``POST /CreditNotes`` has 141,320 coverage cases, each one a request.
Schemathesis 4 offers no cap on that enumeration, only a switch per operation (``[[operations]]`` with
``phases.coverage.enabled = false``). So each operation's cases are counted first, lazily and never past the
bound, and the phase is switched off on every operation with more than ``CASES_PER_EXAMPLE * max_examples``;
such an operation still runs its examples and fuzzing phases, and its check says why coverage did not run.

The count is an upper bound of what the engine sends: it takes every case ``iter_coverage_cases`` yields
(before hooks and serialisation drop any), each operation counting its path's undeclared-method probes as if it
came first (the engine's session probes each path once, not once per operation), and the run feeds coverage no
response data nor error feedback (``contracts.engine``), so generation depends on the spec alone. The counts
share one generation session's caches of drawn values (half the time of a session per operation, the same
counts on this spec and Xero's).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from schemathesis.core.result import Ok
from schemathesis.generation.coverage import GenerationSession
from schemathesis.schemas import APIOperation, BaseSchema

CASES_PER_EXAMPLE = 100  # coverage cases an operation may send per --max-examples (25 by default: 2,500)
PHASE = "coverage"


def bound(max_examples: int) -> int:
    """The most coverage cases one operation may send under ``max_examples``."""
    return CASES_PER_EXAMPLE * max(1, max_examples)


def oversized(schema: BaseSchema, limit: int) -> list[str]:
    """The labels of the operations whose coverage phase would send more than ``limit`` requests."""
    session = GenerationSession()
    try:
        return [
            result.ok().label
            for result in schema.get_all_operations()
            if isinstance(result, Ok) and _count(schema, result.ok(), limit + 1, session) > limit
        ]
    finally:
        session.close()


def _count(
    schema: BaseSchema, operation: APIOperation[Any, Any, Any, Any], most: int, session: GenerationSession
) -> int:
    """How many coverage cases ``operation`` has, counting no further than ``most``.

    An operation whose cases cannot be generated counts those before the error: the engine stops there too and
    reports the error itself.
    """
    session.unexpected_methods_seen.clear()  # this operation probes its path's undeclared methods, as if first
    generation = schema.config.generation_for(operation=operation, phase=PHASE)
    cases: Iterator[Any] = schema.iter_coverage_cases(
        operation, generation_modes=generation.modes, generation_config=generation, session=session
    )
    counted = 0
    try:
        for _ in islice(cases, most):
            counted += 1
    except Exception:  # the engine meets the same error there and reports it: no request goes out past it
        return counted
    return counted


def switched_off(labels: list[str]) -> list[dict[str, Any]]:
    """Schemathesis ``operations`` config entries that switch the coverage phase off on ``labels``."""
    return [{"include-name": label, "phases": {PHASE: {"enabled": False}}} for label in labels]


def reason(limit: int) -> str:
    """What the check of an operation without a coverage phase says."""
    return (
        f"coverage phase not run: more than {limit} cases ({CASES_PER_EXAMPLE} per --max-examples); "
        "examples and fuzzing only"
    )
