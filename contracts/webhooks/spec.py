"""What the spec says about webhooks: its events, how to subscribe, and what emits each event.

Read from an OpenAPI 3.1 ``webhooks:`` section: each entry's ``post`` gives the delivery's documented header
parameters and payload schema (``requestBody``), and ``x-sandbox-emit`` what emits it (``{resource, when:
created | updated | deleted}``, ``{resource, when: {field: value}}`` or ``{resource, operation: id}``; one or a
list). The subscription operation is the ``POST`` of a collection whose body takes a URL and an array of the
event names; ``x-sandbox-transition`` (``{field, from, to}``) on action operations says which ones move a
record's field to a value, and ``x-sandbox-customer-actions`` on an item path what only the API's customer does
(``{name: {field, from, to}}`` or ``{name: {operation: id}}``). Nothing here knows invoices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from contracts.security.resources import Resource
from contracts.security.spec_view import Operation, Schema, Spec, flatten, main_type

WRITE_KINDS = ("created", "updated", "deleted")
MAX_CHAIN = 8  # transitions followed at most to reach a state


@dataclass(frozen=True)
class Emit:
    """One way an event is emitted (an entry of ``x-sandbox-emit``)."""

    resource: str
    kind: str | None = None  # created | updated | deleted
    field: str | None = None  # when: {field: value}
    value: Any = None
    operation: str | None = None  # operation: <operationId>

    def describe(self) -> str:
        """``invoices when created``, ``invoices when status becomes OVERDUE``, ``invoices on sendInvoice``."""
        if self.operation:
            return f"{self.resource} on {self.operation}"
        if self.field:
            return f"{self.resource} when {self.field} becomes {self.value}"
        return f"{self.resource} when {self.kind}"


@dataclass
class Event:
    """One entry of the ``webhooks:`` section."""

    name: str
    emits: list[Emit]
    schema: Schema | None  # the JSON payload schema as written (``$ref``s resolved against the whole spec)
    media: list[str]  # documented request content types
    headers: list[dict[str, Any]]  # documented header parameters, resolved
    description: str = ""
    problem: str = ""  # why the entry cannot be read (a malformed x-sandbox-emit)

    def header(self, suffix: str) -> list[dict[str, Any]]:
        """The documented headers whose name ends with ``suffix`` (case-insensitive), e.g. ``-signature``."""
        return [h for h in self.headers if str(h.get("name", "")).lower().endswith(suffix)]


@dataclass(frozen=True)
class Transition:
    """An action operation that moves a record's ``field`` from one of ``sources`` to ``to``."""

    operation: Operation
    field: str
    sources: tuple[Any, ...]
    to: Any


@dataclass(frozen=True)
class CustomerAction:
    """What only the customer does to a record (``x-sandbox-customer-actions``): moves ``field`` to ``to``."""

    name: str  # the action's name, as a sandbox's simulate path spells it (``view``)
    field: str
    sources: tuple[Any, ...]
    to: Any


@dataclass
class Subscription:
    """How to subscribe: the create operation, its resource, and the names of its URL and events members."""

    resource: Resource
    create: Operation
    url_field: str
    events_field: str
    subscribable: list[str] | None  # the events' enum, when the schema gives one
    extra: dict[str, Any] = field(default_factory=dict)  # other required members, from examples


def events_of(spec: Spec) -> list[Event]:
    """Every entry of the spec's ``webhooks:`` section (empty when it has none)."""
    section = spec.document.get("webhooks")
    if not isinstance(section, Mapping):
        return []
    found: list[Event] = []
    for name, raw_item in section.items():
        item = spec.resolve(raw_item) if isinstance(raw_item, Mapping) else {}
        post = item.get("post") if isinstance(item, Mapping) else None
        if not isinstance(post, Mapping):
            continue
        emits, problem = _emits(post.get("x-sandbox-emit"))
        media, schema = _payload(spec, raw_item)
        params = [p for p in (item.get("parameters") or []) + (post.get("parameters") or []) if isinstance(p, dict)]
        headers = [p for p in params if p.get("in") == "header"]
        found.append(
            Event(
                str(name),
                emits,
                schema,
                media,
                headers,
                description=str(post.get("description") or post.get("summary") or ""),
                problem=problem,
            )
        )
    return found


def _emits(declared: Any) -> tuple[list[Emit], str]:
    if declared is None:
        return [], ""
    entries = declared if isinstance(declared, list) else [declared]
    emits: list[Emit] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), str):
            return [], f"x-sandbox-emit {entry!r} names no resource"
        resource, operation, when = str(entry["resource"]), entry.get("operation"), entry.get("when")
        if isinstance(operation, str):
            emits.append(Emit(resource, operation=operation))
        elif isinstance(when, str) and when in WRITE_KINDS:
            emits.append(Emit(resource, kind=when))
        elif isinstance(when, Mapping) and len(when) == 1:
            ((name, value),) = when.items()
            emits.append(Emit(resource, field=str(name), value=value))
        else:
            return [], f"x-sandbox-emit {dict(entry)!r} has no readable 'when' or 'operation'"
    return emits, ""


def _payload(spec: Spec, raw_item: Any) -> tuple[list[str], Schema | None]:
    """The documented content types and the JSON schema of a webhook's request body (``$ref``s kept)."""
    item = spec.pointer(raw_item["$ref"]) if isinstance(raw_item, Mapping) and "$ref" in raw_item else raw_item
    post = item.get("post") if isinstance(item, Mapping) else None
    body = post.get("requestBody") if isinstance(post, Mapping) else None
    if isinstance(body, Mapping) and isinstance(body.get("$ref"), str):
        body = spec.pointer(body["$ref"])
    content = body.get("content") if isinstance(body, Mapping) else None
    if not isinstance(content, Mapping):
        return [], None
    media = [str(m) for m in content]
    for kind, entry in content.items():
        if str(kind).endswith("json") and isinstance(entry, Mapping) and isinstance(entry.get("schema"), Mapping):
            return media, dict(entry["schema"])
    return media, None


def compile_schema(spec: Spec, schema: Any) -> jsonschema_rs.Validator:
    """A JSON Schema 2020-12 validator of ``schema`` whose local ``$ref``s resolve against the whole spec."""
    if not isinstance(schema, Mapping):
        return jsonschema_rs.validator_for(bool(schema) if isinstance(schema, bool) else {})
    holders = {k: v for k, v in spec.document.items() if k in ("components", "paths", "webhooks")}
    return jsonschema_rs.Draft202012Validator({**holders, **schema}, validate_formats=True)


def find_subscription(spec: Spec, resources: Mapping[str, Resource], events: Iterable[Event]) -> Subscription | None:
    """The create operation that subscribes a URL to events, or None when the spec has none."""
    names = {event.name for event in events}
    for res in resources.values():
        create = res.create
        schema = res.create_schema
        props = schema.get("properties") or {}
        if create is None or not props:
            continue
        url_field = next(
            (
                n
                for n, p in props.items()
                if main_type(flatten(p)) == "string" and (n == "url" or flatten(p).get("format") in ("uri", "url"))
            ),
            None,
        )
        events_field, enum = None, None
        for name, prop in props.items():
            prop = flatten(prop)
            if main_type(prop) != "array":
                continue
            items = flatten(prop.get("items") or {})
            values = [str(v) for v in items.get("enum") or []]
            if (values and names & set(values)) or (not values and name == "events"):
                events_field, enum = name, values or None
                break
        if url_field and events_field:
            sub = Subscription(res, create, url_field, events_field, enum)
            example = create.body_example()
            for name in schema.get("required") or []:
                if name in (url_field, events_field) or flatten(props.get(name) or {}).get("readOnly"):
                    continue
                if isinstance(example, dict) and name in example:
                    sub.extra[name] = example[name]
            return sub
    return None


def transitions_of(spec: Spec, res: Resource) -> list[Transition]:
    """The resource's item operations that declare ``x-sandbox-transition``, in document order."""
    found: list[Transition] = []
    for op in res.item_ops:
        raw = _raw_operation(spec, op)
        declared = raw.get("x-sandbox-transition") if raw else None
        if not isinstance(declared, Mapping) or not isinstance(declared.get("field"), str) or "to" not in declared:
            continue
        found.append(Transition(op, str(declared["field"]), _sources(declared.get("from")), declared["to"]))
    return found


def customer_actions_of(spec: Spec, res: Resource) -> list[CustomerAction]:
    """The state changes the resource's item path declares as the customer's (``x-sandbox-customer-actions``).

    An entry names the change itself (``{field, from, to}``) or an operation whose ``x-sandbox-transition`` it is.
    """
    item = (spec.document.get("paths") or {}).get(res.item) if res.item else None
    item = spec.resolve(item) if isinstance(item, Mapping) else None
    declared = item.get("x-sandbox-customer-actions") if isinstance(item, Mapping) else None
    if not isinstance(declared, Mapping):
        return []
    by_operation = {t.operation.operation_id: t for t in transitions_of(spec, res)}
    found: list[CustomerAction] = []
    for name, entry in declared.items():
        if not isinstance(entry, Mapping):
            continue
        if isinstance(entry.get("operation"), str):
            step = by_operation.get(entry["operation"])
            if step is not None:
                found.append(CustomerAction(str(name), step.field, step.sources, step.to))
        elif isinstance(entry.get("field"), str) and "to" in entry:
            found.append(CustomerAction(str(name), str(entry["field"]), _sources(entry.get("from")), entry["to"]))
    return found


def _sources(declared: Any) -> tuple[Any, ...]:
    """A ``from`` of a transition as a tuple: a list, one value, or () (from any state) when absent."""
    if isinstance(declared, list):
        return tuple(declared)
    return (declared,) if declared is not None else ()


def _raw_operation(spec: Spec, op: Operation) -> dict[str, Any] | None:
    item = (spec.document.get("paths") or {}).get(op.path)
    item = spec.resolve(item) if isinstance(item, Mapping) else None
    raw = item.get(op.method.lower()) if isinstance(item, Mapping) else None
    return raw if isinstance(raw, dict) else None


def route(
    transitions: list[Transition], field_name: str, start: Any, goals: set[Any], *, change: bool
) -> list[Transition]:
    """The shortest chain of transitions on ``field_name`` from ``start`` into ``goals``.

    With ``change`` the chain is at least one step long and its last step really changes the field (an event that
    fires when a field *becomes* a value); without, an empty chain does when ``start`` is already a goal.

    Raises:
        LookupError: when no chain of declared transitions gets there.
    """
    if not change and start in goals:
        return []
    usable = [t for t in transitions if t.field == field_name]
    queue: deque[tuple[Any, list[Transition]]] = deque([(start, [])])
    visited = {repr(start)}
    while queue:
        state, path = queue.popleft()
        for step in usable:
            if step.sources and state not in step.sources:
                continue
            chain = [*path, step]
            if step.to in goals and not (change and step.to == state):
                return chain
            if repr(step.to) not in visited and len(chain) < MAX_CHAIN:
                visited.add(repr(step.to))
                queue.append((step.to, chain))
    wanted = " or ".join(repr(goal) for goal in sorted(goals, key=repr))
    raise LookupError(f"no operation of the spec (x-sandbox-transition) moves {field_name} from {start!r} to {wanted}")


def describes(op: Operation, spec: Spec, event: str) -> bool:
    """Whether an operation's summary or description names ``event`` (e.g. ``Queues a `webhook.test` delivery``)."""
    raw = _raw_operation(spec, op) or {}
    text = f"{raw.get('summary') or ''} {raw.get('description') or ''}"
    return f"`{event}`" in text or f" {event} " in f" {text} "
