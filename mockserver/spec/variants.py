"""Operations a path key's query selects: OpenAI's ``/responses?beta=true`` beside its plain ``/responses``."""

from __future__ import annotations

from collections.abc import Mapping

from mockserver.spec.model import Operation

# rule -> method -> ((the path key's query pairs, its operation), ...)
QueryVariants = dict[str, dict[str, tuple[tuple[tuple[tuple[str, str], ...], Operation], ...]]]


def variant_for(variants: QueryVariants, rule: str, method: str, query: Mapping[str, str]) -> Operation | None:
    """The operation whose path key's query the request sends (all of its names, with those values), if any."""
    for pairs, operation in variants.get(rule, {}).get(method, ()):
        if all(query.get(name) == value for name, value in pairs):
            return operation
    return None
