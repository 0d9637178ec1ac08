"""The ``conformance`` suite: Schemathesis over every operation, with every check, examples + coverage + fuzzing.

It runs Schemathesis's own engine in-process (``contracts.engine``), the same event stream ``st run`` reports,
with the examples, coverage and fuzzing phases and every built-in check (status codes, content types, headers,
response schemas, negative data rejected, positive data accepted, auth not ignored, unsupported methods with
``Allow``, ...) plus the domain checks of ``contracts.checks``. ``target.max_examples`` bounds the fuzzing
phase per operation (the examples and coverage phases enumerate the spec once). One CheckResult per
operation, named by its label (``POST /invoices``); a failure's rule is ``conformance.<check name>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from contracts import engine
from contracts.results import CheckResult
from contracts.suites import suite
from contracts.target import Target

SUITE = "conformance"


@suite(SUITE, default=True)
def run(target: Target) -> Iterator[CheckResult]:
    """Check every operation of the spec against the target."""
    if not target.keys.full:
        yield engine.skipped(SUITE, "all operations", "no key for the 'full' role (--key full=...)")
        return
    unreachable = engine.reachable(SUITE, target)
    if unreachable is not None:
        yield unreachable
        return
    config = engine.build_config(target, phases=engine.fuzzing_phases(), max_examples=target.max_examples)
    try:
        schema = engine.load(target, config)
    except engine.SpecError as exc:
        yield engine.unloadable(SUITE, target, exc)
        return
    yield from engine.Run(target, SUITE, schema).execute()
