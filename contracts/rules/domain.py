"""Where the invoicing domain's vocabulary lives in the spec: resources by name, verbs by their transitions.

The reference model speaks of customers, invoices, estimates and payments, and of sending, completing or
accepting them; the spec says at which paths. A resource is the collection whose last segment is its name;
a verb is the ``x-sandbox-transition`` operation on the resource's items that moves its field to the verb's
state from the verb's source (the one with the fewest sources when several do: ``accept`` leaves SENT only,
``convert`` DRAFT, SENT or ACCEPTED). Other operations (a report, the health probe) are found by their
``operationId``. A spec lacking one of them stops the check that needs it with a ``Skip`` saying which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from contracts.rules.common import Skip
from contracts.security.fixtures import Context as Fixtures
from contracts.security.resources import Resource


@dataclass(frozen=True)
class Move:
    """A domain verb as the transition that performs it: ``field`` goes from ``source`` to ``to``."""

    field: str
    to: str
    source: str


# The domain's verbs (the model's vocabulary, API.md's actions), each as the transition the spec declares for it.
MOVES: Mapping[str, Mapping[str, Move]] = {
    "invoices": {
        "send": Move("status", "SENT", "DRAFT"),
        "complete": Move("status", "COMPLETED", "DRAFT"),
        "uncomplete": Move("status", "SENT", "COMPLETED"),
        "mark-paid": Move("paid_status", "PAID", "UNPAID"),
    },
    "estimates": {
        "send": Move("status", "SENT", "DRAFT"),
        "accept": Move("status", "ACCEPTED", "SENT"),
        "reject": Move("status", "REJECTED", "SENT"),
        "convert": Move("status", "ACCEPTED", "DRAFT"),
    },
}


class DomainPaths:
    """The paths of the domain's resources, verbs and operations in one spec."""

    def __init__(self, fixtures: Fixtures) -> None:
        self.fixtures = fixtures
        self._document: Mapping[str, Any] = fixtures.spec.document

    def resource(self, name: str) -> Resource:
        """The resource whose collection ends in ``name`` (the shortest such path)."""
        found = [res for path, res in self.fixtures.resources.items() if path.rstrip("/").rsplit("/", 1)[-1] == name]
        if not found:
            raise Skip(f"the spec declares no {name} collection")
        return min(found, key=lambda res: len(res.collection))

    def collection(self, name: str) -> str:
        """The collection path of ``name`` (``customers``)."""
        return self.resource(name).collection

    def item(self, name: str, record_id: Any) -> str:
        """The item path of one record of ``name``."""
        res = self.resource(name)
        if res.item is None:
            raise Skip(f"the spec declares no item path under {res.collection}")
        return _fill(res.item, record_id)

    def action(self, name: str, verb: str, record_id: Any) -> str:
        """The path that performs ``verb`` on one record of ``name``, from its declared transition."""
        move = MOVES.get(name, {}).get(verb)
        res = self.resource(name)
        matches = []
        for path, item in (self._document.get("paths") or {}).items():
            post = item.get("post") if isinstance(item, dict) else None
            moved = post.get("x-sandbox-transition") if isinstance(post, dict) else None
            if move is None or res.item is None or not str(path).startswith(res.item + "/"):
                continue
            if isinstance(moved, dict) and moved.get("field") == move.field and moved.get("to") == move.to:
                sources = [str(s) for s in moved.get("from") or []]
                if move.source in sources:
                    matches.append((len(sources), str(path)))
        if not matches:
            raise Skip(f"the spec declares no transition of {name} that can {verb} (an x-sandbox-transition)")
        return _fill(min(matches)[1], record_id)

    def operation(self, operation_id: str, method: str = "get") -> str:
        """The path of the operation with this ``operationId``."""
        path = operation_path(self._document, operation_id, method)
        if path is None:
            raise Skip(f"the spec declares no operation {operation_id}")
        return path


def operation_path(document: Mapping[str, Any], operation_id: str, method: str = "get") -> str | None:
    """The path of the operation with this ``operationId`` in a spec, None when it has none."""
    for path, item in (document.get("paths") or {}).items():
        op = item.get(method) if isinstance(item, dict) else None
        if isinstance(op, dict) and op.get("operationId") == operation_id:
            return str(path)
    return None


def _fill(template: str, record_id: Any) -> str:
    """A path template with its parameter filled with ``record_id`` (escaped for a path segment)."""
    head, _, rest = template.partition("{")
    _, _, tail = rest.partition("}")
    return f"{head}{quote(str(record_id), safe='')}{tail}"
