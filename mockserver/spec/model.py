"""What the index is made of: operations, their parameters and responses, and resources.

Plain frozen records compiled once at start-up; a request only reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from mockserver.spec.envelopes import ItemEnvelope, ListEnvelope
from mockserver.spec.identity import Identity
from mockserver.spec.nesting import ParentLevel
from mockserver.spec.resolve import JsonSchema, SchemaView


@dataclass(frozen=True)
class Parameter:
    """A query, path, header or cookie parameter with its resolved schema."""

    name: str
    location: str
    required: bool
    schema: JsonSchema
    explode: bool
    allow_empty: bool = False  # ``allowEmptyValue``: ``?name=`` is the parameter sent with no value, not a value


@dataclass(frozen=True)
class ResponseSpec:
    """One documented response: its media types (response view of each schema), headers and examples.

    ``examples`` holds every example by media type and name (a lone ``example`` is named ``default``, as
    Prism names it); ``header_examples`` each header's example, where it gives one.
    """

    status: str
    content: dict[str, JsonSchema | None]
    headers: dict[str, tuple[bool, JsonSchema]]
    example: Any = None
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    header_examples: dict[str, Any] = field(default_factory=dict)

    @property
    def json_schema(self) -> JsonSchema | None:
        """The schema of the JSON body, if the response has one."""
        for media_type, schema in self.content.items():
            if media_type.endswith("json"):
                return schema
        return None


@dataclass(frozen=True)
class Operation:
    """One method on one path, with everything a request needs compiled up front."""

    operation_id: str
    method: str
    path: str
    kind: str
    resource: str | None
    parameters: tuple[Parameter, ...]
    request_content: dict[str, JsonSchema]
    body_required: bool
    responses: dict[str, ResponseSpec]
    success: ResponseSpec
    security: tuple[dict[str, tuple[str, ...]], ...]
    extensions: dict[str, Any]
    envelope: str | None = None
    parent: str | None = None
    parent_field: str | None = None
    item_envelope: ItemEnvelope = field(default_factory=ItemEnvelope)
    list_envelope: ListEnvelope | None = None
    request_envelope: ItemEnvelope = field(default_factory=ItemEnvelope)  # a wrapped body: ``{"add_on": {...}}``
    body_path: tuple[str, ...] = ()  # where in the record an update's body applies (``("HostConfig",)``)
    scope: tuple[ParentLevel, ...] = ()  # the parents its path names, outermost first (a child collection's)
    names_records: tuple[ParentLevel, ...] = ()  # every stored record its path names by id, outermost first

    @property
    def route_path(self) -> str:
        """The path a request names: the path key without the query or ``#fragment`` some specs write into it."""
        return self.path.split("#", 1)[0].split("?", 1)[0]

    @property
    def path_query(self) -> tuple[tuple[str, str], ...]:
        """The query a path key carries (OpenAI's ``/responses?beta=true``): what a request sends to reach this one."""
        query = self.path.split("#", 1)[0].partition("?")[2]
        return tuple(parse_qsl(query, keep_blank_values=True))

    @property
    def success_status(self) -> int:
        """The status a successful call returns (first documented 2xx, else 3xx)."""
        return int(self.success.status) if self.success.status.isascii() and self.success.status.isdigit() else 200


@dataclass
class Resource:
    """A stored record type: its representation schema and the facts the engine needs about it."""

    name: str
    schema: JsonSchema
    id_field: str = "id"
    id_is_integer: bool = True
    read_only: frozenset[str] = frozenset()
    create_only: frozenset[str] = frozenset()  # readOnly in the record, yet the create body sets them (a code)
    also_required: frozenset[str] = frozenset()  # optional in the record, required where a list or get shows it
    write_only: frozenset[str] = frozenset()
    refs: dict[str, str] = field(default_factory=dict)
    unique: tuple[str, ...] = ()
    sequences: dict[str, str] = field(default_factory=dict)
    date_field: str | None = None
    search_fields: tuple[str, ...] = ()
    seed_count: int = 0
    creatable: bool = False
    parent: str | None = None
    parent_field: str | None = None
    parent_key: str | None = None  # a child collection's: where its records keep the parent's id
    identity: Identity = field(default_factory=Identity)


def response_spec(status: str, response: Mapping[str, Any], view: SchemaView) -> ResponseSpec:
    """One documented response: its content schemas by media type, its examples, and its headers."""
    content: dict[str, JsonSchema | None] = {}
    examples: dict[str, dict[str, Any]] = {}
    example: Any = None
    for media, body in (response.get("content") or {}).items():
        body = body or {}
        schema = body.get("schema")
        content[media] = view.of(schema) if isinstance(schema, dict) else None
        named = examples[media] = _named_examples(body)
        if example is None and named:
            example = next(iter(named.values()))
    documented = {name: h for name, h in (response.get("headers") or {}).items() if isinstance(h, dict)}
    headers = {name: (bool(h.get("required", False)), h.get("schema") or {}) for name, h in documented.items()}
    header_examples = {
        name: next(iter(shown.values())) for name, h in documented.items() if (shown := _named_examples(h))
    }
    return ResponseSpec(
        status=status,
        content=content,
        headers=headers,
        example=example,
        examples=examples,
        header_examples=header_examples,
    )


def _named_examples(holder: Mapping[str, Any]) -> dict[str, Any]:
    """The examples of a media type or header by name: ``example`` as ``default``, then each of ``examples``."""
    named: dict[str, Any] = {}
    if "example" in holder:
        named["default"] = holder["example"]
    for name, entry in (holder.get("examples") or {}).items():
        if isinstance(entry, Mapping) and "value" in entry:
            named.setdefault(str(name), entry["value"])
    return named
