"""The harness's Schemathesis extensions, in Schemathesis' registries only while a run needs them.

Schemathesis keeps checks and ``before_call`` hooks in process-wide registries that its engine reads on every
scenario; ``before_call`` cannot be registered on a loaded schema (Schemathesis 4 refuses it on the schema scope,
and ``Case.call`` dispatches it to the global dispatcher alone, while ``after_call`` and ``after_network_error``
also go to the schema's own, as ``contracts.engine.count_calls`` uses), so what a run adds must be in those
registries while it runs.

Importing ``contracts`` adds nothing; ``registered(schema)`` adds the domain checks (``contracts.checks``) and
a fresh-key hook bound to ``schema`` for the run's duration, then takes out exactly what it added, so a test
suite, a notebook or another tool in the same process finds Schemathesis as it was.

Runs in several threads at once share the checks: a count of the runs in flight (the one piece of process state
here, kept because the registry it guards is process-wide) lets the last run out remove them.

PDF bodies need no deserializer: Schemathesis offers no public way to remove one, so instead of one that stays
registered for the life of the process, the ``body_matches_content_type`` check looks at their signature.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import schemathesis
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.schemas import BaseSchema

from contracts.checks import CHECKS

IDEMPOTENCY_HEADER = "idempotency-key"
BeforeCall = Callable[[Any, schemathesis.Case[Any], dict[str, Any]], None]


class _SharedChecks:
    """The runs in flight that need ``CHECKS`` registered, and which of them this package added."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs = 0
        self.added: list[str] = []

    def enter(self) -> None:
        """Register the checks Schemathesis lacks, on the first run in, after its own (so they run in one order)."""
        with self.lock:
            if self.runs == 0:
                load_all_checks()  # Schemathesis loads its own lazily; a run would load them anyway
                present = set(REGISTERED_CHECKS.get_all_names())
                for check in CHECKS:
                    if check.__name__ not in present:
                        schemathesis.check(check)
                        self.added.append(check.__name__)
            self.runs += 1

    def leave(self) -> None:
        """Remove the checks this package added, on the last run out."""
        with self.lock:
            self.runs -= 1
            if self.runs == 0:
                for name in self.added:
                    if name in REGISTERED_CHECKS.get_all_names():
                        REGISTERED_CHECKS.unregister(name)
                self.added.clear()


_CHECKS_IN_USE = _SharedChecks()


@contextmanager
def registered(schema: BaseSchema) -> Iterator[None]:
    """The domain checks and a fresh-key hook for ``schema`` in Schemathesis while the block runs; removed after."""
    hook = fresh_keys_for(schema)
    _CHECKS_IN_USE.enter()
    try:
        schemathesis.hook("before_call")(hook)
        try:
            yield
        finally:
            schemathesis.hooks.unregister(hook)
    finally:
        _CHECKS_IN_USE.leave()


def fresh_keys_for(schema: BaseSchema) -> BeforeCall:
    """A ``before_call`` hook giving each positive ``Idempotency-Key`` of ``schema``'s cases a value of its own.

    A fixed seed would send the same keys run after run, and a server that honours them replays stored responses
    (of records deleted since); negative values stay as generated, and other schemas' cases are left alone.
    """

    def before_call(context: Any, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
        if case.operation.schema is not schema or not case.headers:
            return
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            return
        for name in list(case.headers):
            if name.lower() == IDEMPOTENCY_HEADER:
                case.headers[name] = f"contracts-{uuid.uuid4()}"

    return before_call
