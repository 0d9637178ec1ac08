"""Events a spec declares: each entry of its ``webhooks`` section with ``x-sandbox-emit`` says what emits it.

``x-sandbox-emit`` (one trigger or a list) names the ``resource`` whose record is the event's ``data``
and one of: ``when: created | updated | deleted`` (any write of that kind), ``when: {field: value}`` (the
field became that value, whichever way it happened) or ``operation: <operationId>`` (that operation
succeeded). Nothing here knows invoices: a foreign OpenAPI 3.1 spec declares its own. (Not ``on``:
YAML 1.1 readers turn that key into ``true``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mockserver.spec.loader import SpecError

WriteKind = Literal["created", "updated", "deleted"]
_KINDS: frozenset[str] = frozenset({"created", "updated", "deleted"})


@dataclass(frozen=True)
class Trigger:
    """One way an event is emitted: a kind of write, a field reaching a value, or an operation."""

    resource: str
    kind: WriteKind | None = None
    field: str | None = None
    value: Any = None
    operation: str | None = None

    @property
    def is_transition(self) -> bool:
        """Whether this fires when a field becomes a value."""
        return self.field is not None


@dataclass(frozen=True)
class EventSpec:
    """A declared event: its name and what emits it."""

    name: str
    triggers: tuple[Trigger, ...]


def declared_events(
    document: Mapping[str, Any], resources: Mapping[str, object], operations: set[str]
) -> list[EventSpec]:
    """Every event of the spec's ``webhooks`` section that says what emits it, checked against the spec."""
    section = document.get("webhooks")
    if not isinstance(section, Mapping):
        return []
    events: list[EventSpec] = []
    for name, item in section.items():
        post = item.get("post") if isinstance(item, Mapping) else None
        declared = post.get("x-sandbox-emit") if isinstance(post, Mapping) else None
        if declared is None:
            continue
        entries = declared if isinstance(declared, list) else [declared]
        triggers = tuple(_trigger(str(name), entry, resources, operations) for entry in entries)
        events.append(EventSpec(str(name), triggers))
    return events


def _trigger(name: str, entry: object, resources: Mapping[str, object], operations: set[str]) -> Trigger:
    where = f"webhooks.{name}.post.x-sandbox-emit"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), str):
        raise SpecError(f"{where} must name a resource, e.g. {{resource: invoices, when: created}}")
    resource = str(entry["resource"])
    if resource not in resources:
        raise SpecError(f"{where}: no resource {resource!r} in the spec's paths")
    operation, on = entry.get("operation"), entry.get("when")
    if (operation is None) == (on is None):
        raise SpecError(f"{where} needs exactly one of 'when' and 'operation'")
    if operation is not None:
        if operation not in operations:
            raise SpecError(f"{where}: no operation {operation!r} in the spec")
        return Trigger(resource, operation=str(operation))
    if isinstance(on, str) and on in _KINDS:
        return Trigger(resource, kind=on)  # type: ignore[arg-type]  # checked against _KINDS
    if isinstance(on, Mapping) and len(on) == 1:
        (field, value), *_ = on.items()
        return Trigger(resource, field=str(field), value=value)
    raise SpecError(f"{where}: 'when' must be created, updated, deleted or {{field: value}}, not {on!r}")
