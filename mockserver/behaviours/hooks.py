"""The rule hooks one app's domain and platform attach to resources, in one typed object.

The write pipeline (``Engine.write``) runs them in a fixed order for every create, replace,
update, delete, action and seed: guard (may refuse), derive (compute fields, check what must
hold), store, after-write (keep other records in step). Seeding adds its own fixes before derive.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from mockserver.behaviours.records import Derive
from mockserver.state.clock import Clock
from mockserver.state.fake import RefPicker
from mockserver.store import Condition, Record, Tenant

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

Guard = Callable[[Record, Tenant], None]
AfterWrite = Callable[[Record | None, Record | None, Tenant, Clock], None]
SeedFix = Callable[[Record, Tenant, random.Random, RefPicker], None]
AfterSeed = Callable[["Engine", Tenant, random.Random], None]


class Write(Enum):
    """What a write does: the pipeline runs the hooks that apply to it."""

    CREATE = "create"
    REPLACE = "replace"
    UPDATE = "update"
    DELETE = "delete"
    ACTION = "action"
    SEED = "seed"

    @property
    def edits(self) -> bool:
        """A client changing a record's fields (edit guards apply)."""
        return self in (Write.REPLACE, Write.UPDATE)

    @property
    def from_client(self) -> bool:
        """A record built from a client's body (readOnly rules and client checks apply)."""
        return self in (Write.CREATE, Write.REPLACE, Write.UPDATE)


@dataclass(frozen=True)
class ClockRule:
    """A date-driven rule: ``apply`` sets what today implies; ``candidates`` names the records it may change.

    ``candidates(today)`` returns queries (each a conjunction of conditions) whose union holds every
    record the rule would change today, so a new day touches those records, not the whole table.
    """

    apply: Callable[[Record, Tenant, Clock], None]
    candidates: Callable[[dt.date], Sequence[tuple[Condition, ...]]]


@dataclass
class Hooks:
    """Every hook by resource name; ``add_*`` attach them, the pipeline reads them."""

    derive: dict[str, list[Derive]] = field(default_factory=dict)
    client_checks: dict[str, list[Derive]] = field(default_factory=dict)  # what clients write, never seeds
    edit_guards: dict[str, list[Guard]] = field(default_factory=dict)
    delete_guards: dict[str, list[Guard]] = field(default_factory=dict)
    after_write: dict[str, list[AfterWrite]] = field(default_factory=dict)
    seed_fixes: dict[str, list[SeedFix]] = field(default_factory=dict)
    after_seed: list[AfterSeed] = field(default_factory=list)
    clock_rules: dict[str, ClockRule] = field(default_factory=dict)

    def add_derive(self, resource: str, *functions: Derive) -> None:
        """Compute fields or check what must hold, on every write that builds a record (seeds included).

        On a create an integer id is taken after these run: its place holds ``records.PENDING_ID`` (0).
        """
        self.derive.setdefault(resource, []).extend(functions)

    def add_client_check(self, resource: str, *functions: Derive) -> None:
        """Check what a client wrote (create, replace, update), after derive; seeds skip these."""
        self.client_checks.setdefault(resource, []).extend(functions)

    def add_edit_guard(self, resource: str, guard: Guard) -> None:
        """May refuse a replace or update of a record as it stands (409)."""
        self.edit_guards.setdefault(resource, []).append(guard)

    def add_delete_guard(self, resource: str, guard: Guard) -> None:
        """May refuse deleting a record (409)."""
        self.delete_guards.setdefault(resource, []).append(guard)

    def add_after_write(self, resource: str, hook: AfterWrite) -> None:
        """Keep other records in step after a write (``before`` None: created; ``after`` None: deleted)."""
        self.after_write.setdefault(resource, []).append(hook)

    def add_seed_fix(self, resource: str, fix: SeedFix) -> None:
        """Adjust a fake record before it is derived and stored (seeding only)."""
        self.seed_fixes.setdefault(resource, []).append(fix)

    def add_after_seed(self, hook: AfterSeed) -> None:
        """Run once per company after every record is seeded."""
        self.after_seed.append(hook)

    def add_clock_rule(self, resource: str, rule: ClockRule) -> None:
        """The date-driven rule of a resource (one per resource: a second is refused)."""
        if resource in self.clock_rules:
            raise ValueError(f"{resource} already has a clock rule")
        self.clock_rules[resource] = rule
