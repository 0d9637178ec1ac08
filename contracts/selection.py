"""Run a subset of the spec's operations: ``--operations`` patterns and ``--changed-since REF-or-FILE``.

A pattern is an operationId (``createInvoice``), ``METHOD /path`` (``POST /invoices``), a path alone (every
method on it), or ``tag:NAME``; ``*`` and ``?`` are wildcards (``GET /invoices*``, ``* /customers/{id}``,
``list*``, ``tag:Invoic*``), methods and tags match in any case. Several patterns (comma-separated or the flag
repeated) add up. ``--changed-since`` keeps the operations whose definition changed (``contracts.specdiff``);
with both, an operation must match a pattern *and* have changed. The choice narrows the operation-level suites,
conformance and stateful (whose state machine also keeps the operations whose links lead to a chosen one, so
it can reach it); the resource-level suites run as a whole (leave them out with ``--suite``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from contracts import specdiff
from contracts.credentials.schemes import load_document
from contracts.target import Target


@dataclass(frozen=True)
class Choice:
    """The chosen operations' labels, in the spec's order, and how they were chosen (for the report)."""

    labels: tuple[str, ...]
    how: str


def choose(spec_path: Path, patterns: Sequence[str], changed_since: str | None) -> Choice | None:
    """The operations ``patterns`` and ``changed_since`` pick (None when neither is given); ValueError: usage."""
    names = [part.strip() for text in patterns for part in text.split(",") if part.strip()]
    if not names and not changed_since:
        return None
    document = load_document(spec_path)
    every = list(specdiff.operations(document))
    if not every:
        raise ValueError(f"{spec_path} has no operations to choose from")
    labels = [operation.label for operation in every]
    hows: list[str] = []
    if names:
        labels = _matching(every, names)
        hows.append(f"--operations {','.join(names)}")
    if changed_since:
        older = specdiff.older_version(changed_since, spec_path)
        changed = set(specdiff.changed(older, document))
        labels = [label for label in labels if label in changed]
        gone = specdiff.removed(older, document)
        hows.append(f"--changed-since {changed_since}" + (f" (removed since: {', '.join(gone)})" if gone else ""))
    return Choice(tuple(labels), f"{len(labels)} of {len(every)} operations ({'; '.join(hows)})")


def _matching(every: Sequence[specdiff.Operation], names: Sequence[str]) -> list[str]:
    """The labels of the operations any of ``names`` matches; a ValueError names a pattern that matches none."""
    chosen: set[str] = set()
    for name in names:
        hits = {operation.label for operation in every if matches(operation, name)}
        if not hits:
            sample = ", ".join(f"{o.operation_id or o.label!r}" for o in every[:3])
            raise ValueError(
                f"--operations {name!r} matches no operation of the spec (give an operationId, 'METHOD /path', "
                f"a path or tag:NAME, with * wildcards; e.g. {sample})"
            )
        chosen |= hits
    return [operation.label for operation in every if operation.label in chosen]


def matches(operation: specdiff.Operation, pattern: str) -> bool:
    """Whether ``pattern`` (operationId, ``METHOD /path``, ``/path`` or ``tag:NAME``, with wildcards) picks it."""
    if pattern.lower().startswith("tag:"):
        wanted = pattern[4:].strip().lower()
        return any(fnmatchcase(tag.lower(), wanted) for tag in operation.tags)
    method, _, path = pattern.partition(" ")
    if path.strip() and (method.lower() in specdiff.METHODS or method == "*"):
        return fnmatchcase(operation.method.upper(), method.upper()) and fnmatchcase(operation.path, path.strip())
    if pattern.startswith("/"):
        return fnmatchcase(operation.path, pattern)
    return bool(operation.operation_id) and fnmatchcase(operation.operation_id, pattern)


def switched_off(target: Target) -> list[dict[str, Any]]:
    """Schemathesis ``[[operations]]`` entries that turn off every operation ``target`` does not test.

    Turned off in the config (not filtered out of the loaded schema): Schemathesis then never sends such a
    request, not even as an undeclared method of a chosen operation's path (it is declared), and its filters
    compose with the other ``[[operations]]`` entries instead of being ORed with them.
    """
    if target.operations is None:
        return []
    every = specdiff.operations(load_document(target.spec_path))
    return [{"include-name": o.label, "enabled": False} for o in every if o.label not in target.operations]


def with_producers(spec_path: Path, labels: Iterable[str]) -> frozenset[str]:
    """``labels`` and every operation with a response link to one of them (what a state machine needs first)."""
    document = load_document(spec_path)
    chosen = set(labels)
    by_id = {o.operation_id: o.label for o in specdiff.operations(document) if o.operation_id}
    by_ref = {f"#/paths/{_escape(o.path)}/{o.method}": o.label for o in specdiff.operations(document)}
    for operation in specdiff.operations(document):
        item = document["paths"][operation.path]
        for link in _links(document, item.get(operation.method, {}) if isinstance(item, dict) else {}):
            target = by_id.get(str(link.get("operationId"))) or by_ref.get(str(link.get("operationRef", "")))
            if target in chosen:
                chosen.add(operation.label)
    return frozenset(chosen)


def _links(document: Mapping[str, Any], operation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    responses = operation.get("responses")
    for response in (responses if isinstance(responses, dict) else {}).values():
        response = _resolved(document, response)
        links = response.get("links") if isinstance(response, dict) else None
        for link in (links if isinstance(links, dict) else {}).values():
            link = _resolved(document, link)
            if isinstance(link, dict):
                found.append(link)
    return found


def _resolved(document: Mapping[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("$ref"), str):
        return specdiff.pointer(document, value["$ref"])
    return value


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")
