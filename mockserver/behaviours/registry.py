"""Behaviours keyed by operationId: where the API has a rule, a function here answers instead of CRUD."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mockserver.behaviours.context import Call, Reply

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

Behaviour = Callable[[Call, "Engine"], Reply]

_BY_OPERATION: dict[str, Behaviour] = {}


def behaviour(operation_id: str) -> Callable[[Behaviour], Behaviour]:
    """Register the function that answers one operationId."""

    def register(function: Behaviour) -> Behaviour:
        _BY_OPERATION[operation_id] = function
        return function

    return register


def lookup(operation_id: str) -> Behaviour | None:
    """The behaviour registered for an operationId, if any."""
    return _BY_OPERATION.get(operation_id)


def registered() -> frozenset[str]:
    """Every operationId with a behaviour."""
    return frozenset(_BY_OPERATION)
