"""The date-driven rules a spec declares (``x-sandbox-clock``), with what a check needs to exercise them.

A record schema may say that a status comes with the calendar rather than with an action:

    x-sandbox-clock:
    - {field: status, from: [SENT, VIEWED], to: OVERDUE, after: due_date, unless: {paid_status: PAID}}

reads "while ``status`` is SENT or VIEWED and ``paid_status`` is not PAID, the record shows OVERDUE once
the server's today is after its ``due_date``". Each rule is found on the records a collection lists,
with the collection's create body schema, its list query parameters and its declared actions
(``x-sandbox-transition``), so nothing here knows invoices or estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = "application/json"
MAX_DEPTH = 20


@dataclass(frozen=True)
class Transition:
    """A declared action: POST ``{collection}/{id}/{name}`` moves ``field`` from ``sources`` to ``to``."""

    name: str
    field: str
    sources: frozenset[str]
    to: str


@dataclass(frozen=True)
class ClockRule:
    """One date-driven status of one collection, and the spec parts a check needs to drive it."""

    collection: str
    field: str
    sources: frozenset[str]
    to: str
    after: str
    unless: tuple[tuple[str, Any], ...]
    create_schema: Any
    filters: frozenset[str]
    actions: tuple[Transition, ...]

    @property
    def label(self) -> str:
        """``/invoices: status OVERDUE after due_date``."""
        return f"{self.collection}: {self.field} {self.to} after {self.after}"


def resolve(spec: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    """``node`` with its local ``$ref`` followed."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < MAX_DEPTH:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        node, depth = target, depth + 1
    return node


def merged(spec: Mapping[str, Any], schema: Any, depth: int = 0) -> tuple[dict[str, Any], set[str], list[Any]]:
    """(properties, required names, x-sandbox-clock entries) of a schema, through ``$ref`` and ``allOf``."""
    schema = resolve(spec, schema)
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return {}, set(), []
    properties = dict(schema.get("properties") or {})
    required = {str(name) for name in schema.get("required") or []}
    clocks = list(schema.get("x-sandbox-clock") or [])
    for part in schema.get("allOf") or []:
        more, needed, rules = merged(spec, part, depth + 1)
        properties.update(more)
        required |= needed
        clocks.extend(rules)
    return properties, required, clocks


def _json_schema(spec: Mapping[str, Any], holder: Any) -> Any:
    """The JSON schema of a request body or response."""
    content = (resolve(spec, holder) or {}).get("content") or {}
    return (content.get(JSON) or {}).get("schema") if isinstance(content, dict) else None


def _listed_record(spec: Mapping[str, Any], operation: Mapping[str, Any]) -> Any:
    """The schema of the records a list operation's 200 holds (under any array property, or bare)."""
    schema = resolve(spec, _json_schema(spec, (operation.get("responses") or {}).get("200")))
    if isinstance(schema, dict) and schema.get("type") == "array":
        return schema.get("items")
    properties, _, _ = merged(spec, schema)
    for member in properties.values():
        member = resolve(spec, member)
        if isinstance(member, dict) and member.get("type") == "array":
            return member.get("items")
    return None


def _query_names(spec: Mapping[str, Any], operation: Mapping[str, Any]) -> frozenset[str]:
    """The query parameters an operation declares."""
    names = set()
    for parameter in operation.get("parameters") or []:
        parameter = resolve(spec, parameter)
        if isinstance(parameter, dict) and parameter.get("in") == "query":
            names.add(str(parameter.get("name")))
    return frozenset(names)


def _actions(spec: Mapping[str, Any], collection: str) -> tuple[Transition, ...]:
    """The declared actions ``{collection}/{param}/{verb}`` (POST with ``x-sandbox-transition``)."""
    found = []
    for path, item in (spec.get("paths") or {}).items():
        head, _, verb = str(path).rpartition("/")
        owner, _, param = head.rpartition("/")
        if owner != collection or not (param.startswith("{") and param.endswith("}")) or "{" in verb:
            continue
        move = ((item or {}).get("post") or {}).get("x-sandbox-transition")
        if isinstance(move, dict) and isinstance(move.get("to"), str) and isinstance(move.get("field"), str):
            sources = frozenset(str(value) for value in move.get("from") or [])
            found.append(Transition(verb, move["field"], sources, move["to"]))
    return tuple(found)


def clock_rules(spec: Mapping[str, Any]) -> list[ClockRule]:
    """Every rule of every collection that both lists and creates records declaring ``x-sandbox-clock``."""
    rules = []
    for path, item in (spec.get("paths") or {}).items():
        if "{" in str(path) or not isinstance(item, dict) or "get" not in item or "post" not in item:
            continue
        properties, _, clocks = merged(spec, _listed_record(spec, item["get"]))
        create = _json_schema(spec, item["post"].get("requestBody"))
        for entry in clocks:
            if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("field", "to", "after")):
                continue
            enum = (resolve(spec, properties.get(entry["field"])) or {}).get("enum") or []
            if entry["to"] not in enum or entry["after"] not in properties:
                continue  # a rule naming no value of its field, or no field of the record, cannot be checked
            rules.append(
                ClockRule(
                    collection=str(path),
                    field=entry["field"],
                    sources=frozenset(str(value) for value in entry.get("from") or []),
                    to=entry["to"],
                    after=entry["after"],
                    unless=tuple(sorted((str(k), v) for k, v in (entry.get("unless") or {}).items())),
                    create_schema=create,
                    filters=_query_names(spec, item["get"]),
                    actions=_actions(spec, str(path)),
                )
            )
    return rules
