"""The suite registry: each suite is a generator of CheckResults, registered by name; the CLI reads names from here.

A suite plugs in with ``@suite(name)`` alone: ``contracts run --suite`` accepts every registered name, runs the
``default`` ones when none is named, and offers each suite's ``options`` as flags and config-file keys.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from contracts.results import CheckResult
from contracts.target import Target

SuiteRunner = Callable[[Target], Iterator[CheckResult]]

# The suites that ship with the harness, by module under ``contracts``, in the order they run. ``ratelimit`` comes
# last: it spends a key's request budget (and waits for it to come back).
BUILTIN = ("conformance", "stateful", "rules", "security", "webhooks", "idempotency", "ratelimit")


@dataclass(frozen=True)
class Option:
    """A setting of one suite: ``--name-with-dashes`` on the command line, ``name`` in the config file."""

    name: str
    default: float
    help: str
    metavar: str = "N"
    integer: bool = False

    @property
    def flag(self) -> str:
        """The command-line flag."""
        return "--" + self.name.replace("_", "-")

    def parse(self, value: object) -> float:
        """``value`` as this option's number; a ValueError (a usage error) when it is not one above 0."""
        try:
            number = float(str(value))
        except ValueError:
            number = float("nan")
        if not (0 < number < float("inf")) or (self.integer and not number.is_integer()):
            kind = "a whole number" if self.integer else "a number"
            raise ValueError(f"{self.flag} must be {kind} above 0, not {value!r}")
        return int(number) if self.integer else number


@dataclass(frozen=True)
class Entry:
    """A registered suite: its runner, whether it runs when no suite is named, and its options."""

    name: str
    run: SuiteRunner
    default: bool
    options: tuple[Option, ...] = ()


_SUITES: dict[str, Entry] = {}
_LOADED: list[bool] = []  # one entry once the built-in suites were imported (importing one alone registers only it)
_LOADING = threading.RLock()  # runs in several threads load the built-in suites once, and wait for it


def suite(name: str, *, default: bool = False, options: Sequence[Option] = ()) -> Callable[[SuiteRunner], SuiteRunner]:
    """Register a suite; ``default``: whether it runs when no suite is named."""

    def register(function: SuiteRunner) -> SuiteRunner:
        _SUITES[name] = Entry(name, function, default, tuple(options))
        return function

    return register


def get(name: str) -> SuiteRunner:
    """The suite registered under ``name`` (importing the built-in suites on first use)."""
    if name not in _SUITES:
        _load_builtin()
    return _SUITES[name].run


def names() -> list[str]:
    """Every registered suite: the built-in ones in their run order, then any other in the order it registered."""
    _load_builtin()
    rank = {name: index for index, name in enumerate(BUILTIN)}
    order = list(_SUITES)
    return sorted(_SUITES, key=lambda name: (rank.get(name, len(BUILTIN)), order.index(name)))


def defaults() -> list[str]:
    """The suites that run when none is named, in run order."""
    return [name for name in names() if _SUITES[name].default]


def entries() -> list[Entry]:
    """Every registered suite with what it registered, in run order."""
    return [_SUITES[name] for name in names()]


def choose(requested: Sequence[str] | None) -> tuple[str, ...]:
    """The suites to run: ``requested`` (each must be registered), else the defaults."""
    chosen = tuple(name.strip() for name in requested or () if name.strip())
    known = names()
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; choose from {', '.join(known)}")
    return chosen or tuple(defaults())


def configure(target: Target, options: Mapping[str, float]) -> Target:
    """``target`` with suite options."""
    return dataclasses.replace(target, options=tuple(sorted(options.items())))


def option(target: Target, declared: Option) -> float:
    """A suite option's value for this run: the one the target carries, else the option's default."""
    return dict(target.options).get(declared.name, declared.default)


def _load_builtin() -> None:
    with _LOADING:
        if _LOADED:
            return
        for name in BUILTIN:
            importlib.import_module(f"contracts.{name}")  # registers the suite
        _LOADED.append(True)
