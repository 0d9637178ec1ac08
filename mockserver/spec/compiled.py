"""A schema compiled by jsonschema-rs, the keywords it refuses left out: what requests and examples are checked by.

A spec served with --lenient may break its dialect's meta-schema; a schema jsonschema-rs refuses would
otherwise check nothing (or stop the sandbox), so each refused keyword is dropped and the rest still checked.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, NamedTuple

import jsonschema_rs

from mockserver.spec.bundle import bundle
from mockserver.spec.resolve import JsonSchema

_MOST_REFUSED = 64  # keywords one schema may lose to the meta-schema before it is served unchecked


class Compiled(NamedTuple):
    """A jsonschema-rs validator and the bundled schema it was compiled from (error paths point into it)."""

    validator: Any
    schema: JsonSchema | bool


def compiled(schema: JsonSchema | bool, refused: dict[str, str]) -> Compiled:
    """Compile a schema; a keyword jsonschema-rs refuses is left out, and noted in ``refused`` (pointer -> why).

    A spec served with --lenient may break its dialect's meta-schema (the OpenAI spec's ``$recursiveAnchor:
    true``, a ``pattern`` that is no regex): jsonschema-rs then compiles nothing, and the sandbox would not
    start. Each refused keyword is dropped from a copy, and the rest of the schema is still checked.
    """
    bundled = bundle(schema)
    copied = False
    for _ in range(_MOST_REFUSED):
        try:
            return Compiled(jsonschema_rs.validator_for(bundled, validate_formats=True), bundled)
        except jsonschema_rs.ValidationError as refusal:  # the schema itself breaks the meta-schema
            if not copied:
                bundled, copied = copy.deepcopy(bundled), True
            pointer = _drop_keyword(bundled, list(refusal.instance_path))
            if pointer is None:
                refused["/"] = refusal.message
                break
            refused[pointer] = refusal.message
    return Compiled(jsonschema_rs.validator_for(True), True)  # nothing left to trust: no check at all


def _drop_keyword(schema: Any, path: list[str | int]) -> str | None:
    """Remove the member of an object nearest the end of ``path`` (a refused keyword); its pointer, else None."""
    steps: list[tuple[Any, str | int]] = []
    node = schema
    for step in path:
        steps.append((node, step))
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    for depth in range(len(steps) - 1, -1, -1):
        container, step = steps[depth]
        if isinstance(container, dict) and isinstance(step, str):
            del container[step]
            return "".join(f"/{str(s).replace('~', '~0').replace('/', '~1')}" for s in path[: depth + 1])
    return None


def in_format(value: str, name: str) -> bool:
    """Whether a string is of a named ``format`` as validation checks it (a format it does not know admits all)."""
    return bool(_format_checker(name).is_valid(value))


@functools.lru_cache(maxsize=128)
def _format_checker(name: str) -> Any:
    return jsonschema_rs.validator_for({"format": name}, validate_formats=True)
