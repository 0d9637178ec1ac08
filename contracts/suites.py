"""Suites and the registry a run chooses them from; a suite plugs in by being added to one.

A suite is a generator of CheckResults with a name, whether it runs when none is named, its ``options`` (offered
as flags and config-file keys) and what ``--max-examples`` bounds in it. A ``Registry`` belongs to whoever builds
it (the CLI, a run, a test): nothing here is process-wide, and the built-in suites are added to one explicitly
(``contracts.builtin.suites``), so the CLI, runner and report work from a registry alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from contracts.results import CheckResult
from contracts.target import Target

SuiteRunner = Callable[[Target], Iterator[CheckResult]]


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
class Setting:
    """A field of the Target that one suite reads: ``--name-with-dashes`` on the command line, ``name`` in the config.

    ``build_target`` takes it by that name and refuses a value no run can use; ``help`` says its default.
    """

    name: str
    help: str
    metavar: str
    number: bool = False

    @property
    def flag(self) -> str:
        """The command-line flag."""
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Entry:
    """A suite: its runner, whether it runs when no suite is named, its options, and what ``--max-examples`` bounds."""

    name: str
    run: SuiteRunner
    default: bool
    options: tuple[Option, ...] = ()
    examples: str = ""  # what --max-examples N means in this suite ("" when it does not use it)
    settings: tuple[Setting, ...] = ()


class Registry:
    """The suites a run may choose from, in the order they run (the order they were added)."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        """Add a suite after those already here; a second suite of the same name is an error."""
        if entry.name in self._entries:
            raise ValueError(f"a suite named {entry.name!r} is registered already")
        self._entries[entry.name] = entry

    def get(self, name: str) -> Entry:
        """The suite named ``name`` (KeyError when there is none)."""
        return self._entries[name]

    def names(self) -> list[str]:
        """Every suite, in run order."""
        return list(self._entries)

    def defaults(self) -> list[str]:
        """The suites that run when none is named, in run order."""
        return [name for name, entry in self._entries.items() if entry.default]

    def entries(self) -> list[Entry]:
        """Every suite with what it declared, in run order."""
        return list(self._entries.values())

    def choose(self, requested: Sequence[str] | None) -> tuple[str, ...]:
        """The suites to run: ``requested`` (each must be here), else the defaults."""
        chosen = tuple(name.strip() for name in requested or () if name.strip())
        unknown = [name for name in chosen if name not in self._entries]
        if unknown:
            raise ValueError(f"unknown suite(s) {unknown}; choose from {', '.join(self._entries)}")
        return chosen or tuple(self.defaults())


def configure(target: Target, options: Mapping[str, float]) -> Target:
    """``target`` with suite options."""
    return dataclasses.replace(target, options=tuple(sorted(options.items())))


def option(target: Target, declared: Option) -> float:
    """A suite option's value for this run: the one the target carries, else the option's default."""
    return dict(target.options).get(declared.name, declared.default)
