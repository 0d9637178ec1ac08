"""Fields a response schema forbids below the top level (writeOnly inside objects and array items), and their removal.

The response view of a schema turns each writeOnly property into ``false`` at any depth; a record's
top-level ones are left out by name (``Engine.hidden``), and these are the ones nested in its values:
a sign request's ``signers[].password`` must never be answered back.
"""

from __future__ import annotations

from typing import Any

# A field's name -> None (leave it out) or what to leave out inside its value (an object, or each item of an array).
Hidden = dict[str, "Hidden | None"]


class WriteOnlyFinder:
    """Finds what schemas forbid below a record's top level; schemas shared between operations are walked once."""

    def __init__(self) -> None:
        self._walked: dict[int, Hidden] = {}  # id(schema) -> its tree (pruned: shared trees stay correct)
        self._held: list[Any] = []  # the schemas walked, kept alive so their ids stay theirs

    def inside(self, schema: Any) -> Hidden:
        """What a record schema (a response view, or the spec's own) forbids below its top level; empty: nothing."""
        found: Hidden = {}
        properties = schema.get("properties") if isinstance(schema, dict) else None
        self._held.append(schema)
        for name, sub in (properties or {}).items():
            if _write_only(sub):
                continue  # a top-level field: left out by name
            inner = _forbidden(sub, self._walked, set())
            if inner:
                found[name] = inner
        return _pruned(found)


def forbidden_in(schema: Any) -> Hidden:
    """Everything a response schema forbids inside a value of it, at any depth."""
    return _pruned(_forbidden(schema, {}, set()))


def _pruned(tree: Hidden) -> Hidden:
    """``tree`` without the branches that leave nothing out (a schema that contains itself may add them)."""
    trees: dict[int, Hidden] = {}
    pending = [tree]
    while pending:
        node = pending.pop()
        if id(node) not in trees:
            trees[id(node)] = node
            pending.extend(inner for inner in node.values() if inner is not None)
    hides = {key: any(inner is None for inner in node.values()) for key, node in trees.items()}
    changed = True
    while changed:  # a branch hides something if anything below it does: to a fixed point, cycles and all
        changed = False
        for key, node in trees.items():
            if not hides[key] and any(inner is not None and hides[id(inner)] for inner in node.values()):
                hides[key] = changed = True
    for node in trees.values():
        for name in [name for name, inner in node.items() if inner is not None and not hides[id(inner)]]:
            del node[name]
    return tree


def _forbidden(schema: Any, walked: dict[int, Hidden], walking: set[int]) -> Hidden:
    """Everything ``schema`` forbids at any depth (its own properties, its items', its alternatives').

    A schema that contains itself gets a tree that contains itself (``walked``, and ``walking`` the ones
    not finished yet): a record's data is finite, so leaving fields out of it still ends.
    """
    if not isinstance(schema, dict):
        return {}
    if id(schema) in walked:
        return walked[id(schema)]
    found: Hidden = {}
    walked[id(schema)] = found
    walking.add(id(schema))
    for name, sub in (schema.get("properties") or {}).items():
        if _write_only(sub):
            found[name] = None
        else:
            inner = _forbidden(sub, walked, walking)
            if inner or id(sub) in walking:  # one still being walked may fill later
                found[name] = inner
    nested = [schema.get("items"), *(schema.get(key) or () for key in ("allOf", "anyOf", "oneOf"))]
    for part in nested:
        for branch in part if isinstance(part, list) else [part]:
            for name, inner_hidden in list(_forbidden(branch, walked, walking).items()):
                if name not in found or inner_hidden is None:
                    found[name] = inner_hidden
    walking.discard(id(schema))
    return found


def _write_only(schema: Any) -> bool:
    """A property no response may show: ``false`` in a response view, or flagged writeOnly in the spec's schema."""
    return schema is False or (isinstance(schema, dict) and schema.get("writeOnly") is True)


def without_hidden(value: Any, hidden: Hidden) -> Any:
    """``value`` with what ``hidden`` names left out, copied where it changes (arrays: each item)."""
    if isinstance(value, list):
        return [without_hidden(item, hidden) for item in value]
    if not isinstance(value, dict) or not hidden.keys() & value.keys():
        return value
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if key not in hidden:
            kept[key] = item
        elif (inner := hidden[key]) is not None:
            kept[key] = without_hidden(item, inner)
    return kept
