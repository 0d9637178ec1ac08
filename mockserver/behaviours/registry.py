"""Behaviours keyed by operationId: where an API has a rule, a function answers instead of generic CRUD.

Each engine owns one ``Behaviours`` table, filled by the domain the spec asked for when the app is
built: two apps in one process never share it, and a second answer for one operationId is an error
rather than a silent replacement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from mockserver.behaviours.context import Call, Reply

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

Behaviour = Callable[[Call, "Engine"], Reply]


class DuplicateBehaviour(ValueError):
    """Two behaviours were registered for one operationId."""


class Behaviours:
    """One app's behaviours by operationId."""

    def __init__(self) -> None:
        self._by_operation: dict[str, Behaviour] = {}

    def add(self, operation_id: str, function: Behaviour) -> None:
        """Register the function that answers one operationId; a second registration is refused."""
        present = self._by_operation.get(operation_id)
        if present is not None and present is not function:
            raise DuplicateBehaviour(
                f"operationId {operation_id!r} already has a behaviour ({present.__qualname__}); "
                f"{function.__qualname__} cannot replace it"
            )
        self._by_operation[operation_id] = function

    def add_all(self, table: Mapping[str, Behaviour]) -> None:
        """Register every behaviour of a table (operationId -> function)."""
        for operation_id, function in table.items():
            self.add(operation_id, function)

    def lookup(self, operation_id: str) -> Behaviour | None:
        """The behaviour registered for an operationId, if any."""
        return self._by_operation.get(operation_id)

    def registered(self) -> frozenset[str]:
        """Every operationId with a behaviour."""
        return frozenset(self._by_operation)
