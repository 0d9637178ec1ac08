"""Which operations of a spec changed since another version of it (``--changed-since REF-or-FILE``).

An operation's *definition* is everything that decides what a client sends it and what it answers: the
operation object, its path's shared parameters (and servers), the spec's default ``security`` and ``servers``
when it declares none of its own, and every component it reaches through ``$ref`` (followed transitively,
each once, so a recursive schema ends). Two versions of an operation are the same when those parts are equal
as JSON; a changed schema deep under a ``$ref`` therefore changes every operation that reaches it, and an
operation that is new is changed too. The older version comes from a file, or from a git revision of the spec
file (``git show REF:path``, run in the spec's repository).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from contracts import spec_document

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Operation:
    """One operation of a spec: its label (``POST /invoices``), operationId and tags."""

    label: str
    operation_id: str
    tags: tuple[str, ...]
    path: str
    method: str


def operations(document: Mapping[str, Any]) -> Iterator[Operation]:
    """Every operation of ``document``, in the spec's order (a path item's own ``$ref`` followed)."""
    paths = document.get("paths")
    for path, item in (paths if isinstance(paths, dict) else {}).items():
        item = _follow(document, item)
        for method in METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if isinstance(operation, dict):
                tags = tuple(str(tag) for tag in operation.get("tags") or () if isinstance(tag, str))
                yield Operation(f"{method.upper()} {path}", str(operation.get("operationId") or ""), tags, path, method)


def definitions(document: Mapping[str, Any]) -> dict[str, str]:
    """Each operation's definition as canonical JSON, by label."""
    found: dict[str, str] = {}
    for operation in operations(document):
        item = _follow(document, document["paths"][operation.path])
        own = item[operation.method]
        parts: dict[str, Any] = {
            "operation": own,
            "path_parameters": item.get("parameters"),
            "path_servers": item.get("servers"),
            "security": own.get("security", document.get("security")),
            "servers": own.get("servers", item.get("servers", document.get("servers"))),
        }
        parts["components"] = _reached(document, parts)
        found[operation.label] = json.dumps(parts, sort_keys=True, default=str)
    return found


def changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The labels of ``new``'s operations that are new or whose definition differs from ``old``'s, in order."""
    before = definitions(old)
    return [label for label, text in definitions(new).items() if before.get(label) != text]


def removed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The labels of ``old``'s operations that ``new`` no longer has (nothing to test; the report names them)."""
    now = {operation.label for operation in operations(new)}
    return [operation.label for operation in operations(old) if operation.label not in now]


def older_version(reference: str, spec_path: Path) -> dict[str, Any]:
    """The spec ``reference`` names: a file, else a git revision of ``spec_path``; a ValueError when neither."""
    candidate = Path(reference)
    if candidate.is_file():
        return _parse(candidate.read_text(encoding="utf-8"), str(candidate))
    folder = spec_path.resolve().parent
    try:
        top = _git(folder, "rev-parse", "--show-toplevel").strip()
        relative = spec_path.resolve().relative_to(Path(top).resolve()).as_posix()
        text = _git(folder, "show", f"{reference}:{relative}")
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) and exc.stderr else str(exc)
        raise ValueError(
            f"--changed-since {reference!r} is neither a spec file nor a git revision of {spec_path} ({detail})"
        ) from None
    return _parse(text, f"{reference}:{relative}")


def _git(folder: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)  # noqa: S603, S607
    return result.stdout


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        loaded = yaml.load(text, Loader=spec_document.LOADER)  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        raise ValueError(f"--changed-since: {where} is not YAML or JSON: {exc}") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("paths"), dict):
        raise ValueError(f"--changed-since: {where} is not an OpenAPI document (no paths)")
    return loaded


def _reached(document: Mapping[str, Any], start: Any) -> dict[str, Any]:
    """Every local ``$ref`` reachable from ``start``, with what it points at (each followed once)."""
    found: dict[str, Any] = {}
    pending = list(_refs(start))
    while pending:
        ref = pending.pop()
        if ref in found:
            continue
        target = pointer(document, ref)
        found[ref] = target
        pending.extend(_refs(target))
    return found


def _refs(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def pointer(document: Mapping[str, Any], ref: str) -> Any:
    """What a local ``#/a/b`` reference points at (None for one that points nowhere, or outside the file)."""
    if not ref.startswith("#"):
        return None  # another file: its text is not compared (the reference itself is)
    node: Any = document
    for token in ref[1:].split("/")[1:]:
        key = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def _follow(document: Mapping[str, Any], item: Any) -> Any:
    """A path item, its own ``$ref`` followed (once)."""
    if isinstance(item, dict) and isinstance(item.get("$ref"), str):
        return pointer(document, item["$ref"]) or {}
    return item
