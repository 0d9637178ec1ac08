"""The router's rules: OpenAPI path templates as Werkzeug rules, told apart by their parameters' types.

OpenAPI forbids two templates that differ only in parameter names, yet real specs have them: Xero serves
``/Accounts/{AccountID}/Attachments/{AttachmentID}`` (a uuid) beside ``.../Attachments/{FileName}``.
Where templates collide, a segment whose parameter is a uuid or an integer only matches such a value, so
``.../Attachments/report.pdf`` reaches the file name's operations, as the spec means. Templates that do not
collide keep plain segments: a malformed id there still reaches its operation, which answers it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.routing import BaseConverter, Rule

from mockserver.spec import Operation
from mockserver.spec.variants import QueryVariants

_PARAMETER = re.compile(r"{([^}]+)}")


class UuidSegment(BaseConverter):
    """A path segment that is a uuid, tried before plain segments (a lower weight sorts first)."""

    regex = r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
    weight = 50


class IntegerSegment(BaseConverter):
    """A path segment that is a (possibly negative) integer, tried before plain segments."""

    regex = r"-?[0-9]+"
    weight = 50


CONVERTERS: Mapping[str, type[BaseConverter]] = {"uuid_segment": UuidSegment, "integer_segment": IntegerSegment}


class MatchingRule(Rule):
    """A rule that matches paths and builds no URL: Werkzeug's two URL builders per rule are most of a map's set-up."""

    def _compile_builder(self, *args: Any, **kwargs: Any) -> Any:
        # Werkzeug's private hook (3.x): any arguments a later release passes are taken, and if it goes, only the
        # set-up's speed is lost.
        def unbuildable(*args: Any, **kwargs: Any) -> tuple[str, str]:
            raise RuntimeError(f"{self.rule}: the sandbox's operation rules match paths, they build no URLs")

        return unbuildable


def operation_routes(base_path: str, operations: Iterable[Operation]) -> dict[str, dict[str, Operation]]:
    """Each rule (``/api/v1/customers/<id>``) with its operations by method.

    A path key some specs write a query or a ``#fragment`` into (OpenAI's ``/responses?beta=true``, Box's
    ``/files/{file_id}#get_shared_link``) is routed by its path; where another operation already has that
    path and method, the one with nothing after its path keeps it (``query_variants`` finds the others).
    """
    operations = sorted(operations, key=lambda op: op.route_path != op.path)  # plain path keys first
    rule_of = _rules(base_path, operations)
    routes: dict[str, dict[str, Operation]] = {}
    for operation in operations:
        routes.setdefault(rule_of(operation), {}).setdefault(operation.method, operation)
    return routes


def query_variants(base_path: str, operations: Iterable[Operation]) -> QueryVariants:
    """Per rule and method, the operations whose path key carries a query: a request sending it reaches them."""
    operations = list(operations)
    rule_of = _rules(base_path, operations)
    variants: QueryVariants = {}
    for operation in (op for op in operations if op.path_query):
        by_method = variants.setdefault(rule_of(operation), {})
        by_method[operation.method] = (*by_method.get(operation.method, ()), (operation.path_query, operation))
    return variants


def _rules(base_path: str, operations: list[Operation]) -> Callable[[Operation], str]:
    """Each operation's rule, its placeholders typed where its template collides with another's."""
    shapes: dict[str, set[str]] = {}
    for operation in operations:
        shapes.setdefault(_PARAMETER.sub("{}", operation.route_path), set()).add(operation.route_path)
    return lambda op: base_path + _rule(op, len(shapes[_PARAMETER.sub("{}", op.route_path)]) > 1)


def _rule(operation: Operation, typed: bool) -> str:
    """``/customers/{id}`` -> ``/customers/<id>`` (typed placeholders where templates collide)."""
    return _PARAMETER.sub(lambda match: _placeholder(match.group(1), operation, typed), operation.route_path)


def _placeholder(name: str, operation: Operation, typed: bool) -> str:
    """``<name>``, or ``<uuid_segment:name>`` where a colliding template's parameter is typed."""
    if not typed:
        return f"<{name}>"
    schema: Any = next((p.schema for p in operation.parameters if p.location == "path" and p.name == name), {})
    if schema.get("format") == "uuid":
        return f"<uuid_segment:{name}>"
    if schema.get("type") == "integer":
        return f"<integer_segment:{name}>"
    return f"<{name}>"
