"""Build, merge and check records against their resource's schema: the generic write rules.

readOnly fields are the server's: a client may echo them, but a value that differs from what the
server holds or computes is a 422 naming the field. References must point at an existing record
of the same company; unique fields must be unique within the company.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from mockserver.behaviours.completion import Completion
from mockserver.errors import ValidationFailed
from mockserver.spec import Resource
from mockserver.spec.compiled import in_format
from mockserver.spec.identity import normalized
from mockserver.spec.index import singular
from mockserver.spec.resolve import JsonSchema, admitted_types, has_type_in
from mockserver.state.clock import Clock
from mockserver.store import Record, Tenant

Derive = Callable[[Record, Tenant, Clock], None]


class PendingId(int):
    """Holds a new record's integer id's place until the write takes it from the counter (0: no counter gives it).

    The counter's statement would open a create's write transaction, and on a shared file that
    transaction holds the write lock every other worker waits for: the record is completed, derived
    and checked first, so that work runs beside the other workers' writes instead of inside the lock.
    """


PENDING_ID = PendingId(0)


def is_pending(value: Any) -> bool:
    """Whether a value holds the place of an id the write has not taken yet."""
    return type(value) is PendingId


def strip_read_only(value: Any, schema: Mapping[str, Any]) -> Any:
    """A copy of a client value as the record may keep it, at any depth: no readOnly field, none its schema forbids.

    A request may carry fields its response never shows (``additionalProperties: false`` there), or values of a
    type the record has no room for (an id where it embeds the object): they are not kept, so the record is
    never served with them.
    """
    return _showable(value, schema, keep_read_only=False)


def _showable(value: Any, schema: Mapping[str, Any], *, keep_read_only: bool) -> Any:
    """A copy of a value with only what its schema can show, at any depth; readOnly fields too if ``keep_read_only``."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        closed = schema.get("additionalProperties") is False
        kept: dict[str, Any] = {}
        for key, item in value.items():
            sub = properties.get(key)
            hidden = not keep_read_only and isinstance(sub, dict) and sub.get("readOnly") is True
            if hidden or (closed and key not in properties):
                continue
            shown = _as_shown(item, sub if isinstance(sub, dict) else {})
            if shown is not _UNSHOWABLE:
                kept[key] = _showable(shown, sub if isinstance(sub, dict) else {}, keep_read_only=keep_read_only)
        return kept
    if isinstance(value, list):
        items = schema.get("items")
        item_schema = items if isinstance(items, dict) else {}
        shown_items = (_as_shown(item, item_schema) for item in value)
        return [
            _showable(item, item_schema, keep_read_only=keep_read_only)
            for item in shown_items
            if item is not _UNSHOWABLE
        ]
    return value


_UNSHOWABLE: Any = object()  # a request value the record's schema has no type for


def _as_shown(value: Any, schema: Mapping[str, Any]) -> Any:
    """A request value as the record can show it: ``""`` for a nullable object is null (Stripe's "unset").

    A value of a type the record's property does not admit (an id sent where the record embeds the
    object), or a text or number outside its enum, const or format, is not kept: served, it would break
    the response schema (Box's request admits ``retention_type: non-modifiable``, its answer only
    ``non_modifiable``). An array keeps the items it can show.
    """
    types = admitted_types(schema)
    if types:
        nullable = "null" in types or schema.get("nullable") is True
        if not has_type_in(value, types | {"null"} if nullable else types):
            return None if value == "" and nullable else _UNSHOWABLE
    if isinstance(value, (str, int, float)) and not _scalar_fits(value, schema):
        return _UNSHOWABLE
    return value


def _scalar_fits(value: str | float, schema: Mapping[str, Any]) -> bool:
    """Whether a text or number meets its schema's enum, const and (text) format."""
    if not in_enum_and_const(schema, value):
        return False
    form = schema.get("format")
    return not (isinstance(value, str) and isinstance(form, str)) or in_format(value, form)


def read_only_mismatches(sent: Any, built: Any, schema: Mapping[str, Any], path: str = "") -> dict[str, list[str]]:
    """Fields where a client sent a readOnly value that differs from the server's."""
    errors: dict[str, list[str]] = {}
    if isinstance(sent, dict) and isinstance(built, dict):
        properties = schema.get("properties") or {}
        for key, value in sent.items():
            sub = properties.get(key)
            if not isinstance(sub, dict):
                continue
            where = f"{path}.{key}" if path else key
            if sub.get("readOnly") is True:
                if built.get(key) != value and not is_pending(built.get(key)):  # a pending id: checked once taken
                    errors[where] = [
                        f"{key} is read-only and computed by the server (expected {built.get(key)!r}, got {value!r})."
                    ]
            else:
                errors.update(read_only_mismatches(value, built.get(key), sub, where))
    elif isinstance(sent, list) and isinstance(built, list):
        items = schema.get("items")
        for index, (left, right) in enumerate(zip(sent, built, strict=False)):
            errors.update(
                read_only_mismatches(left, right, items if isinstance(items, dict) else {}, f"{path}.{index}")
            )
    return errors


def in_schema_order(record: Record, schema: Mapping[str, Any]) -> None:
    """Reorder a record's keys as the schema lists its properties (id first, as documented); others go last."""
    properties = schema.get("properties") or {}
    ordered = {name: record[name] for name in properties if name in record}
    if len(ordered) < len(record):
        ordered.update((name, value) for name, value in record.items() if name not in properties)
    record.clear()
    record.update(ordered)


def stamp_owner(record: Record, resource: Resource, owner: tuple[str, int] | None) -> None:
    """Stamp the owning company's id into the domain's tenant field, when there is one and the resource has it."""
    if owner is not None and owner[0] in (resource.schema.get("properties") or {}):
        record[owner[0]] = owner[1]


def stamp(
    record: Record, resource: Resource, clock: Clock, *, created: bool, owner: tuple[str, int] | None = None
) -> None:
    """Set the server-owned fields the resource has: created_at, updated_at and the owner (a domain's tenant field)."""
    properties = resource.schema.get("properties") or {}
    stamp_owner(record, resource, owner)
    now = clock.timestamp()
    if created and "created_at" in properties:
        record["created_at"] = instant_as(properties["created_at"], now)
    if "updated_at" in properties:
        record["updated_at"] = instant_as(properties["updated_at"], now)


def instant_as(schema: Any, timestamp: str) -> Any:
    """An RFC 3339 UTC instant as a property's schema keeps it: Unix seconds where it is a number, else the text.

    OpenAI's and Stripe's ``created_at``/``created`` are integers (``format: unixtime``); most APIs' are strings.
    """
    types = admitted_types(schema) if isinstance(schema, Mapping) else frozenset()
    if "string" in types or not types & {"integer", "number"}:
        return timestamp
    return int(dt.datetime.fromisoformat(timestamp).timestamp())


def assign_sequences(record: Record, resource: Resource, tenant: Tenant) -> None:
    """Generate numbers such as ``INV-000001`` for sequence fields the client left out (skipping taken ones)."""
    for field, pattern in resource.sequences.items():
        if record.get(field) in (None, ""):
            while tenant.taken(
                resource.name, field, candidate := pattern.format(tenant.next_sequence(resource.name, field))
            ):
                pass
            record[field] = candidate


def check_references(record: Record, resource: Resource, tenant: Tenant, sent: Any = None) -> dict[str, list[str]]:
    """Fields that reference a record this company does not have.

    A reference the client did not send and the sandbox filled with ``""`` (a required field's plainest
    value) names nothing and is not checked: OpenAI's permission's ``project_id`` refused every create.
    """
    errors: dict[str, list[str]] = {}
    for field, target in resource.refs.items():
        value = record.get(field)
        if value == "" and not (isinstance(sent, dict) and field in sent):
            continue
        if value is not None and not isinstance(value, (list, dict)) and not tenant.exists(target, value):
            errors[field] = [f"No {singular(target).replace('_', ' ')} with id {value} exists."]
    return errors


def check_unique(record: Record, resource: Resource, tenant: Tenant) -> dict[str, list[str]]:
    """Unique fields whose value another record of this company already has."""
    errors: dict[str, list[str]] = {}
    own_id = record.get(resource.id_field)
    for field in resource.unique:
        value = record.get(field)
        if value is None:
            continue
        if any(other.get(resource.id_field) != own_id for other in tenant.lookup(resource.name, field, value)):
            errors[field] = [f"The {field.replace('_', ' ')} {value!r} has already been taken."]
    return errors


def finish(
    record: Record,
    sent: Any,
    resource: Resource,
    tenant: Tenant,
    clock: Clock,
    derive: list[Derive],
    completion: Completion,
    before: Record | None = None,
) -> Record:
    """Complete a record (every property its schema fills, then derived fields), then enforce the rules or raise 422.

    ``before`` is the record a replace or update rewrites (None for a create).
    """
    completion.complete(record, resource, tenant, clock, before=before, sent=sent)
    for function in derive:
        function(record, tenant, clock)
    in_schema_order(record, resource.schema)
    checked = sent
    if before is None and isinstance(sent, dict) and resource.create_only:  # a create sets these, shown or not
        checked = {key: value for key, value in sent.items() if key not in resource.create_only}
    errors = read_only_mismatches(checked, record, resource.schema)
    errors.update(check_references(record, resource, tenant, sent))
    errors.update(check_unique(record, resource, tenant))
    if errors:
        raise ValidationFailed(errors)
    return record


def writable(body: Any, schema: JsonSchema) -> dict[str, Any]:
    """The client-writable part of a request body (its fields spelt as the record spells them)."""
    value = strip_read_only(as_record_names(body, schema), schema)
    return value if isinstance(value, dict) else {}


def as_record_names(body: Any, schema: Mapping[str, Any]) -> Any:
    """A body whose fields name the record's in another case (Twilio sends ``FriendlyName`` for ``friendly_name``)."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(body, dict) or not isinstance(properties, Mapping) or body.keys() <= properties.keys():
        return body
    spelt: dict[str, list[str]] = {}
    for name in properties:
        spelt.setdefault(normalized(name), []).append(name)
    renamed: dict[str, Any] = {}
    for key, value in body.items():
        matches = spelt.get(normalized(key), []) if key not in properties else []
        fits = len(matches) == 1 and matches[0] not in body and _admits(properties[matches[0]], value)
        renamed[matches[0] if fits else key] = value
    return renamed


def _admits(schema: Any, value: Any) -> bool:
    """Whether a field could hold a value: its type, enum, const and format.

    Twilio's example sends ``Type: channel`` to an update that declares no ``Type``; the record's ``type``
    is public or private.
    """
    if not isinstance(schema, Mapping):
        return False
    return _as_shown(value, schema) is not _UNSHOWABLE


def in_enum_and_const(schema: Mapping[str, Any], value: Any) -> bool:
    """Whether a value is one of the schema's ``enum`` and equals its ``const``, where it has either."""
    if isinstance(schema.get("enum"), list) and value not in schema["enum"]:
        return False
    return "const" not in schema or value == schema["const"]


def creatable(body: dict[str, Any], resource: Resource) -> dict[str, Any]:
    """The part of a create body a new record keeps: the writable fields and the ones set only at creation.

    A create-only value is kept as far as the record can show it, as a writable one is (Asana's
    ``workspace: "12345"`` and ``followers: ["12345"]`` where the project embeds the objects).
    """
    record = writable(body, resource.schema)
    properties = resource.schema.get("properties") or {}
    for name in resource.create_only:
        sub = properties.get(name)
        sub = sub if isinstance(sub, dict) else {}
        shown = _as_shown(body[name], sub) if name in body else _UNSHOWABLE
        if shown is not _UNSHOWABLE:
            record[name] = _showable(shown, sub, keep_read_only=True)
    return record


def placed(body: dict[str, Any], current: Record, path: tuple[str, ...]) -> dict[str, Any]:
    """A body that updates the object at ``path`` inside a record, as a body for the whole record.

    The object keeps its other fields: ``{"Memory": 1}`` at ``("HostConfig",)`` becomes
    ``{"HostConfig": {...the current HostConfig, "Memory": 1}}``.
    """
    value: Any = copy.deepcopy(current.get(path[0]))
    top = value = value if isinstance(value, dict) else {}
    for step in path[1:]:
        inner = value.get(step)
        value[step] = inner if isinstance(inner, dict) else {}
        value = value[step]
    value.update(body)
    return {path[0]: top}
