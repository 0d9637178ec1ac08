"""One JSON Schema document from a resolved schema, its shared nodes written once under $defs.

A resolved schema shares the nodes of every $ref target; written out as a plain tree it would repeat
each of them wherever it is reached, which for a large spec whose schemas refer to each other is
exponential. The bundle refers to each shared node with a local $ref instead. Annotations that no
validator reads (descriptions, examples, extensions) are left out, to keep it small; OpenAPI's
``int32`` and ``int64`` formats become the bounds they mean.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mockserver.spec.resolve import JsonSchema

_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_VALUES = frozenset({"default", "enum", "const"})
_NOTES = frozenset({"description", "title", "example", "examples", "externalDocs", "xml", "discriminator", "$defs"})
DEFS = "$defs"


def bundle(schema: JsonSchema | bool) -> JsonSchema | bool:
    """``schema`` as a self-contained JSON Schema: every node reached more than once is a ``$defs`` entry."""
    if not isinstance(schema, dict):
        return schema
    shared = _shared_nodes(schema)
    names: dict[int, str] = {}
    defs: dict[str, Any] = {}
    pending: list[tuple[str, JsonSchema]] = []

    def write(node: Any, *, top: bool = False) -> Any:
        """One schema node; a shared one becomes a $ref, its body written later from ``pending``."""
        if not isinstance(node, dict):
            return node
        if not top and id(node) in shared:
            name = names.get(id(node))
            if name is None:
                name = names[id(node)] = f"n{len(names)}"
                pending.append((name, node))
            return {"$ref": f"#/{DEFS}/{name}"}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _NOTES or key.startswith("x-"):
                continue
            if key in _VALUES:
                out[key] = value
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: write(sub) for name, sub in value.items()}
            elif isinstance(value, list):
                out[key] = [write(item) for item in value]
            else:
                out[key] = write(value)
        _bound_by_format(out)
        return out

    root: JsonSchema = write(schema, top=True)
    while pending:  # a loop, not recursion: chains of shared schemas can be longer than Python's stack
        name, node = pending.pop()
        defs[name] = write(node, top=True)
    if defs:
        root[DEFS] = defs
    return root


_FORMAT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _bound_by_format(node: dict[str, Any]) -> None:
    """``format: int32`` / ``int64`` as the bounds OpenAPI gives them (a validator checks formats on strings only)."""
    bounds = _FORMAT_RANGES.get(node.get("format"))  # type: ignore[arg-type]
    kind = node.get("type")
    numeric = kind in ("integer", "number") or (isinstance(kind, list) and {"integer", "number"} & set(kind))
    if bounds is None or not numeric:
        return
    if "minimum" not in node and "exclusiveMinimum" not in node:
        node["minimum"] = bounds[0]
    if "maximum" not in node and "exclusiveMaximum" not in node:
        node["maximum"] = bounds[1]


def _shared_nodes(schema: JsonSchema) -> frozenset[int]:
    """Ids of the schema nodes reached more than once from ``schema`` (each node is entered only once)."""
    seen: Counter[int] = Counter()
    keep: list[Any] = []  # holds every node while ids are compared
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        seen[id(node)] += 1
        if seen[id(node)] > 1:
            continue
        keep.append(node)
        for key, value in node.items():
            if key in _NOTES or key in _VALUES or key.startswith("x-"):
                continue
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                stack.extend(value.values())
            else:
                stack.append(value)
    return frozenset(node_id for node_id, count in seen.items() if count > 1)
