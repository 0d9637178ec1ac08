"""The suite registry: each suite is a generator of CheckResults, registered by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from contracts.results import CheckResult
from contracts.target import Target

SuiteRunner = Callable[[Target], Iterator[CheckResult]]

_SUITES: dict[str, SuiteRunner] = {}
_LOADED: list[bool] = []  # one entry once the built-in suites were imported (importing one alone registers only it)


def suite(name: str) -> Callable[[SuiteRunner], SuiteRunner]:
    """Register a suite; new suites (idempotency, rate limits, webhooks) plug in the same way."""

    def register(function: SuiteRunner) -> SuiteRunner:
        _SUITES[name] = function
        return function

    return register


def get(name: str) -> SuiteRunner:
    """The suite registered under ``name`` (importing the built-in suites on first use)."""
    if name not in _SUITES:
        _load_builtin()
    return _SUITES[name]


def names() -> list[str]:
    """Every registered suite."""
    _load_builtin()
    return list(_SUITES)


def _load_builtin() -> None:
    if _LOADED:
        return
    _LOADED.append(True)
    from contracts import conformance, rules, security, stateful, webhooks  # noqa: F401  (registers the suites)
