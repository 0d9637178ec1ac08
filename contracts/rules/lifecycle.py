"""Every declared transition (``x-sandbox-transition``) of every resource, from every state of its field.

For an action ``POST {item}/{verb}`` that moves ``field`` from ``from`` to ``to``, and each value the
field can take (its ``enum``, else the values the transitions name):

- from a legal state the action succeeds and the record then reads ``to``;
- from any other state it is refused with the documented status (409 where the spec documents it) and
  the record reads as before.

A fresh record is brought to each state through the spec's other transitions (a shortest path through
the lifecycle graph; the action under test is used only to reach a state it must then refuse), else by
creating it with the field set, else by updating the field; a state none of these reach is skipped and
named in the check's notes (OVERDUE comes with the calendar, VIEWED from the customer).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from contracts.results import Failure
from contracts.rules.catalog import Action, Catalog, Kind
from contracts.rules.common import Skip
from contracts.rules.context import Context, Findings


def check_lifecycles(ctx: Context) -> list[Failure]:
    """Each action of each resource: allowed from its ``from`` states (landing on ``to``), refused elsewhere."""
    catalog = ctx.catalog
    kinds = [kind for kind in catalog.kinds.values() if kind.actions]
    if not kinds:
        raise Skip("the spec declares no x-sandbox-transition on a resource that can be created, read and listed")
    found = Findings(ctx)
    tried = 0
    for kind in kinds:
        for action in kind.actions:
            for state in states_of(kind, action.field):
                tried += _one(catalog, found, kind, action, state)
    if not tried:
        raise Skip("no state of any lifecycle could be reached: " + "; ".join(ctx.notes[:6]))
    return found.failures


def states_of(kind: Kind, name: str) -> list[str]:
    """The values a lifecycle field can take: its enum, else the values its transitions name."""
    enum = kind.prop(name).get("enum")
    if isinstance(enum, list) and enum:
        return [str(value) for value in enum if value is not None]
    named: list[str] = []
    for action in kind.actions:
        if action.field == name:
            named += [*sorted(action.sources), action.to]
    return list(dict.fromkeys(named))


def _one(catalog: Catalog, found: Findings, kind: Kind, action: Action, state: str) -> int:
    """Check ``action`` from ``state`` on a fresh record; 1 when it could be checked, 0 when skipped."""
    rule = f"rules.lifecycle.{kind.name}"
    legal = state in action.sources
    # To check a legal move, reach the state without the action itself (convert twice is no longer legal).
    others = [a for a in kind.actions if a.field == action.field and (a is not action or not legal)]
    record_id = reach(catalog, found, rule, kind, action.field, state, others)
    if record_id is None:
        return 0
    before_answer, before = catalog.read(kind, record_id)
    if before is None:
        found.add(rule, f"setup: GET {kind.res.item} must show the record just made", before_answer)
        return 1
    where = f"POST {action.op.path} ({action.field} {state})"
    response = catalog.act(action.op, record_id)
    after_answer, after = catalog.read(kind, record_id)
    if legal:
        if response.status_code >= 300:
            found.add(rule, f"{where}: {state} is in the declared from {sorted(action.sources)}, refused", response)
        elif after is None or after.get(action.field) != action.to:
            shown = after.get(action.field) if isinstance(after, dict) else None
            found.add(rule, f"{where}: succeeded, but {action.field} reads {shown!r}, not {action.to!r}", after_answer)
        return 1
    allowed = action.refusals()
    if response.status_code not in allowed:
        found.add(
            rule,
            f"{where}: {state} is not in the declared from {sorted(action.sources)}, so the action must be "
            f"refused with {'/'.join(map(str, sorted(allowed)))}; it answered {response.status_code}",
            response,
        )
    elif after != before:
        changed = sorted(k for k in set(before) | set(after or {}) if (after or {}).get(k) != before.get(k))
        found.add(rule, f"{where}: refused, yet the record changed ({', '.join(changed)})", after_answer)
    return 1


def reach(
    catalog: Catalog, found: Findings, rule: str, kind: Kind, name: str, state: str, moves: Iterable[Action]
) -> Any:
    """A fresh record whose ``name`` reads ``state`` (its id), or None (noted) when no way there works."""
    body = catalog.body(kind)
    if body is None:
        why = catalog.fixtures.notes[-1] if catalog.fixtures.notes else "a required reference has nothing to name"
        found.note(f"{kind.res.collection}: no valid create body ({why})")
        return None
    created, record = catalog.post(kind, body)
    if record is None:
        found.add(rule, f"setup: POST {kind.res.collection} with a minimal valid body must create a record", created)
        return None
    record_id = kind.res.id_of(record)
    _, current = catalog.read(kind, record_id)
    start = str((current or record).get(name))
    path = shortest_path(start, state, list(moves))
    if path is not None:
        for step in path:
            response = catalog.act(step.op, record_id)
            if response.status_code >= 300:
                found.add(rule, f"setup: POST {step.op.path} from {step.sources} must succeed on the way", response)
                return None
        return record_id
    record_id = _set_directly(catalog, kind, name, state, body)
    if record_id is None:
        found.note(f"{kind.res.collection} {name} {state}: reached by no transition, create or update")
    return record_id


def shortest_path(start: str, goal: str, moves: list[Action]) -> list[Action] | None:
    """The fewest transitions from ``start`` to ``goal`` (empty when already there), or None."""
    queue: deque[tuple[str, list[Action]]] = deque([(start, [])])
    seen = {start}
    while queue:
        state, path = queue.popleft()
        if state == goal:
            return path
        for move in moves:
            if state in move.sources and move.to not in seen:
                seen.add(move.to)
                queue.append((move.to, [*path, move]))
    return None


def _set_directly(catalog: Catalog, kind: Kind, name: str, state: str, body: dict[str, Any]) -> Any:
    """A record created with ``name`` = ``state`` (else one updated to it), when the target takes it; or None."""
    if name in kind.writable and state in (kind.writable[name].get("enum") or [state]):
        _, record = catalog.post(kind, {**body, name: state})
        if record is not None:
            record_id = kind.res.id_of(record)
            _, current = catalog.read(kind, record_id)
            if current is not None and current.get(name) == state:
                return record_id
    update = kind.res.item_op("PATCH")
    schema = update.body_schema if update is not None else None
    prop = (schema or {}).get("properties", {}).get(name)
    if update is None or not isinstance(prop, dict) or prop.get("readOnly"):
        return None
    _, record = catalog.post(kind, body)
    if record is None:
        return None
    record_id = kind.res.id_of(record)
    response = catalog.act(update, record_id, kind.res.wrap(update, {name: state}))
    _, current = catalog.read(kind, record_id)
    return record_id if response.status_code < 300 and current is not None and current.get(name) == state else None
