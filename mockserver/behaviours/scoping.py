"""Child collections at run time: the parent a path names must exist, and its children are its own.

An operation at or below ``/parents/{pid}/children`` (see ``mockserver.spec.nesting``) checks each
parent its path names exists (and, several levels deep, belongs to the one before it), then lists,
creates and finds only the innermost parent's children: a child of another parent is 404 there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockserver.errors import NotFound
from mockserver.spec import Resource
from mockserver.spec.index import singular
from mockserver.spec.nesting import link_value
from mockserver.store import Condition, Record

if TYPE_CHECKING:
    from mockserver.behaviours.context import Call
    from mockserver.behaviours.engine import Engine


@dataclass(frozen=True)
class Parent:
    """The record a child collection's path names: where its children keep its id, that id, and its name."""

    key: str
    value: Any
    label: str

    @property
    def link(self) -> tuple[str, Any]:
        """The key and value a new child of this parent is stamped with."""
        return self.key, self.value

    def condition(self) -> Condition:
        """The store condition that selects this parent's children."""
        return Condition(self.key, "eq", self.value)

    def owns(self, record: Record) -> bool:
        """Whether a record is one of this parent's children."""
        return bool(record.get(self.key) == self.value)


def label(resource: Resource) -> str:
    """A resource's name for a person: ``merchants_webhooks`` -> ``merchants webhook``."""
    return singular(resource.name).replace("_", " ")


def parent_of(call: Call, engine: Engine) -> Parent | None:
    """The innermost parent the call's path names, after checking every parent on the path (404 if one is not there)."""
    child = call.resource
    if not call.operation.scope or child is None or child.parent_key is None:
        return None
    resources = engine.index.resources
    outer: tuple[Resource, Any, str] | None = None  # the parent before: its resource, stored id and label
    for level in call.operation.scope:
        parent = resources[level.resource]
        sent = call.params.get(level.param)
        record = call.tenant.get(parent.name, parent.identity.coerce(sent)) if sent is not None else None
        within = ""
        if outer is not None and parent.parent == outer[0].name and parent.parent_key is not None:
            within = f" under {outer[2]}"
            if record is not None and record.get(parent.parent_key) != link_value(
                parent.schema, parent.parent_key, outer[1]
            ):
                record = None
        if record is None:
            raise NotFound(
                f"No {label(parent)} with id {sent} exists{within}, so it has no {label(child)} records; "
                f"use the id of an existing {label(parent)}."
            )
        outer = (parent, record[parent.id_field], f"{label(parent)} {sent}")
    assert outer is not None
    _, parent_id, named = outer
    return Parent(child.parent_key, link_value(child.schema, child.parent_key, parent_id), named)


def check_owner(parent: Parent | None, resource: Resource, record: Record, record_id: Any) -> Record:
    """The record, when it is the parent's child (or no parent is named); else 404 as if it did not exist."""
    if parent is not None and not parent.owns(record):
        raise NotFound(f"No {label(resource)} with id {record_id} exists under {parent.label}.")
    return record


def keep_parent(record: Record, current: Record, resource: Resource) -> None:
    """A rewritten record keeps the parent it was created under (the link is fixed at creation)."""
    key = resource.parent_key
    if key is not None and key in current:
        record[key] = current[key]
