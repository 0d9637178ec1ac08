"""Generic behaviour for each operation kind: list, create, read, replace, update, delete, actions."""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mockserver.behaviours import listing, records, scoping
from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.hooks import Write
from mockserver.errors import Conflict, NotFound, ValidationFailed
from mockserver.jsonio import embedded
from mockserver.spec import Operation, Resource
from mockserver.spec.index import singular
from mockserver.spec.pages import PageFacts
from mockserver.store import Condition, Order, Query, Record, RecordId

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

_PATH_PARAM = re.compile(r"{([^}]+)}")


def path_id(call: Call, position: int = -1) -> RecordId:
    """The record id named by the path parameter at ``position`` among the path's parameters."""
    names = _PATH_PARAM.findall(call.operation.path)
    value = call.params.get(names[position])
    if value is None:
        raise NotFound("The path does not name a record.")
    if position == -1 and call.resource is not None and call.operation.kind != "sublist":
        return call.resource.identity.coerce(value)  # type: ignore[no-any-return]
    return value  # type: ignore[no-any-return]


def require_resource(call: Call) -> Resource:
    """The resource an operation acts on (the index guarantees one for CRUD kinds)."""
    if call.resource is None:
        raise NotFound(f"{call.operation.path} does not address a stored resource.")
    return call.resource


def find(call: Call, resource: Resource, record_id: RecordId) -> Record:
    """The caller's record, or 404 whether it is absent or another company's."""
    key = alternate_key(call.operation, resource) if resource is call.resource else None
    if key is None:
        record = call.tenant.get(resource.name, record_id)
    else:  # ``.../Attachments/{FileName}`` beside ``.../Attachments/{AttachmentID}``: the record with that field
        found = call.tenant.find(resource.name, Query(where=(Condition(key, "eq", record_id),), limit=1))
        record = found[0] if found else None
    if record is None:
        raise NotFound(f"No {singular(resource.name).replace('_', ' ')} with {key or 'id'} {record_id} exists.")
    return record


def alternate_key(operation: Operation, resource: Resource) -> str | None:
    """The record field an item path names instead of the id (its last parameter is another property), else None."""
    names = _PATH_PARAM.findall(operation.path)
    if not names or operation.kind == "sublist" or names[-1] == resource.id_field:
        return None
    properties = resource.schema.get("properties") or {}
    return names[-1] if names[-1] in properties else None


def find_in_scope(call: Call, engine: Engine, resource: Resource, record_id: RecordId) -> Record:
    """``find``, under the parent a child collection's path names: another parent's child is 404 there."""
    parent = scoping.parent_of(call, engine) if resource is call.resource else None
    return scoping.check_owner(parent, resource, find(call, resource, record_id), record_id)


def list_records(call: Call, engine: Engine) -> Reply:
    """GET collection: filter, search, sort, paginate (one store query); a child collection lists its parent's."""
    resource = require_resource(call)
    parent = scoping.parent_of(call, engine)
    return _listing(call, engine, resource, *(() if parent is None else (parent.condition(),)))


def _listing(call: Call, engine: Engine, resource: Resource, *extra: Condition) -> Reply:
    request = listing.page_request(call.operation, call.params)
    id_field = resource.id_field
    if request.style in ("after", "before") and request.after is not None:
        extra = (
            *extra,
            Condition(id_field, "lt" if request.style == "after" else "gt", resource.identity.coerce(request.after)),
        )
    query = listing.query(resource, call.operation, call.params, *extra)
    if request.limit is None:
        return _list_reply(call, engine, call.tenant.find(resource.name, query), None)
    if request.style in ("after", "before"):  # newest first, as cursor APIs list (ids sort as they were made)
        query = dataclasses.replace(query, order=Order(id_field, descending=request.style == "after"))
    sliced = replace_page(query, request.offset, request.limit)
    rows: list[Any]
    if engine.shows_as_stored(call) and request.style not in ("after", "before"):
        # nothing to hide: the stored JSON goes out as it is, never decoded
        documents = call.tenant.query_documents(resource.name, sliced)
        rows, total = [embedded(text) for text in documents.documents], documents.total
    else:
        result = call.tenant.query(resource.name, sliced)
        rows, total = result.rows, result.total
    if request.style == "before":
        rows.reverse()
    page = PageFacts(
        total=total,
        offset=request.offset,
        limit=request.limit,
        shown=len(rows),
        url=call.url,
        query_pairs=tuple(call.query_pairs),
        style=request.style,
        param=request.param,
        last_id=rows[-1].get(id_field) if rows and isinstance(rows[-1], dict) else None,
        first_page=request.first_page,
    )
    return _list_reply(call, engine, rows, page)


def _list_reply(call: Call, engine: Engine, rows: list[Any], page: PageFacts | None) -> Reply:
    body, headers = engine.render_list(call, rows, page)
    return Reply(call.operation.success_status, body, headers)


def replace_page(query: Query, offset: int, limit: int) -> Query:
    """The same query, sliced."""
    return dataclasses.replace(query, offset=offset, limit=limit)


def list_children(call: Call, engine: Engine) -> Reply:
    """GET /parents/{id}/children: the children whose parent link names this parent."""
    resource = require_resource(call)
    parent_id = path_id(call)
    parent = engine.index.resources.get(call.operation.parent or "")
    if parent is not None:
        find(call, parent, parent_id)
    link = call.operation.parent_field or ""
    return _listing(call, engine, resource, Condition(link, "eq", parent_id))


def create(call: Call, engine: Engine) -> Reply:
    """POST collection: assign id, numbers and timestamps, enforce the rules, store (each record a list body holds)."""
    resource = require_resource(call)
    link = _parent_link(call, engine)
    return _each_body(call, engine, lambda body: engine.new_record(call.tenant, resource, body, link))


def _parent_link(call: Call, engine: Engine) -> tuple[str, Any] | None:
    """The key and value a new child record keeps its parent's id in (None at the top level)."""
    parent = scoping.parent_of(call, engine)
    return None if parent is None else parent.link


def _each_body(call: Call, engine: Engine, write: Callable[[dict[str, Any]], Record]) -> Reply:
    """Write each record a body holds (one, or each of a list wrapper's) and answer them all."""
    bodies = call.operation.request_envelope.unwrap_all(call.body) or [None]
    made = [write(body if isinstance(body, dict) else {}) for body in bodies]
    return Reply(call.operation.success_status, engine.render_items(call, made))


def read(call: Call, engine: Engine) -> Reply:
    """GET item."""
    resource = require_resource(call)
    record_id = path_id(call)
    return Reply(
        call.operation.success_status, engine.render_item(call, find_in_scope(call, engine, resource, record_id))
    )


def replace(call: Call, engine: Engine) -> Reply:
    """PUT item: the body replaces every writable field; server fields are kept."""
    resource = require_resource(call)
    return _rewrite(call, engine, resource, path_id(call), _sent(call), merge=False)


def update(call: Call, engine: Engine) -> Reply:
    """PATCH item: the body's fields are merged into the record."""
    resource = require_resource(call)
    return _rewrite(call, engine, resource, path_id(call), _sent(call), merge=True)


def update_by_body(call: Call, engine: Engine) -> Reply:
    """PUT/PATCH on a collection whose body carries the id (the Petstore's ``PUT /pet``)."""
    resource = require_resource(call)
    body = _sent(call)
    body = body if isinstance(body, dict) else {}
    if body.get(resource.id_field) is None:
        raise ValidationFailed({resource.id_field: ["This field is required to identify the record."]})
    return _rewrite(call, engine, resource, body[resource.id_field], body, merge=call.operation.method == "PATCH")


def upsert(call: Call, engine: Engine) -> Reply:
    """PUT/POST on a collection: update each record the body names that exists, create the others."""
    resource = require_resource(call)
    link = _parent_link(call, engine)

    def write(body: dict[str, Any]) -> Record:
        named = body.get(resource.id_field)
        record_id = None if named is None else resource.identity.coerce(named)
        if record_id is not None and call.tenant.get(resource.name, record_id) is not None:
            return _rewritten_by(call, engine, resource, record_id, body, merge=call.operation.method != "PUT")
        return engine.new_record(call.tenant, resource, body, link)

    return _each_body(call, engine, write)


def _sent(call: Call) -> Any:
    """The record a request body carries, out of its envelope."""
    return call.operation.request_envelope.unwrap(call.body)


def _rewrite(call: Call, engine: Engine, resource: Resource, record_id: RecordId, body: Any, *, merge: bool) -> Reply:
    record = _rewritten_by(call, engine, resource, record_id, body, merge=merge)
    return Reply(call.operation.success_status, engine.render_item(call, record))


def _rewritten_by(
    call: Call, engine: Engine, resource: Resource, record_id: RecordId, body: Any, *, merge: bool
) -> Record:
    """Replace or update one record (under the path's parent) with a body, through the write pipeline."""
    current = find_in_scope(call, engine, resource, record_id)
    if not isinstance(body, dict):
        body = {k: v for k, v in call.params.items() if k in (resource.schema.get("properties") or {})}
        merge = True
    elif call.operation.body_path:  # the body updates an object inside the record (Docker's HostConfig)
        body, merge = records.placed(body, current, call.operation.body_path), True
    if "updated_at" in body and body["updated_at"] == current.get("updated_at"):
        # Echoing the stamp the server holds (GET, then PUT the same body) is not a mismatch.
        body = {k: v for k, v in body.items() if k != "updated_at"}
    kind = Write.UPDATE if merge else Write.REPLACE
    after = functools.partial(_rewritten, engine, resource, current, body, merge=merge)
    record = engine.write(call.tenant, resource, kind, current, after, sent=body, record_id=record_id)
    assert record is not None  # a rewrite always builds a record
    return record


def _rewritten(engine: Engine, resource: Resource, current: Record, body: dict[str, Any], *, merge: bool) -> Record:
    """The record a replace or update makes: the body's writable fields over (or instead of) the current ones."""
    changes = records.writable(body, resource.schema)
    if merge:
        record = {**copy.deepcopy(current), **changes}
    else:
        record = {k: copy.deepcopy(v) for k, v in current.items() if k in resource.read_only}
        for name in (*resource.write_only, *resource.sequences):
            if name in current and name not in changes:
                record[name] = current[name]
        record.update(changes)
    record[resource.id_field] = current[resource.id_field]
    scoping.keep_parent(record, current, resource)
    records.stamp(record, resource, engine.clock, created=False)
    return record


def delete(call: Call, engine: Engine) -> Reply:
    """DELETE item (guards may refuse with 409)."""
    resource = require_resource(call)
    record_id = path_id(call)
    record = find_in_scope(call, engine, resource, record_id)
    engine.write(call.tenant, resource, Write.DELETE, record, None, record_id=record_id)
    status = call.operation.success_status
    return Reply(status, None if status == 204 else engine.render_item(call, record))


def action(call: Call, engine: Engine, *, also: Callable[[Record], None] | None = None) -> Reply:
    """POST item/verb: apply the operation's ``x-sandbox-transition`` (409 from a wrong state).

    ``also`` changes the record further (an action's own stamp) before its one write.
    """
    resource = require_resource(call)
    record_id = path_id(call)
    record = find_in_scope(call, engine, resource, record_id)
    before = copy.deepcopy(record)
    transition = call.operation.extensions.get("x-sandbox-transition")
    changed = isinstance(transition, dict)
    if isinstance(transition, dict):
        apply_transition(record, transition, call.operation, f"{singular(resource.name)} {record_id}")
        records.stamp(record, resource, engine.clock, created=False)
    if also is not None:
        also(record)
        changed = True
    if changed:  # the write's derive step applies what today implies for the state it moved to
        engine.write(call.tenant, resource, Write.ACTION, before, record, record_id=record_id)
    return Reply(call.operation.success_status, engine.render_item(call, record))


def apply_transition(record: Record, transition: dict[str, Any], operation: Operation, label: str) -> None:
    """Move a record's state field, or raise 409 naming the state it is in."""
    field = str(transition.get("field", "status"))
    allowed = transition.get("from")
    current = record.get(field)
    if allowed is not None and current not in allowed:
        verb = operation.path.rsplit("/", 1)[-1]
        raise Conflict(
            f"Cannot {verb} {label.replace('_', ' ')}: its {field} is {current} "
            f"(allowed from {', '.join(map(str, allowed))})."
        )
    record[field] = transition.get("to", current)


GENERIC = {
    "list": list_records,
    "sublist": list_children,
    "query": list_records,  # GET collection/word (``/pet/findByStatus``): a list filtered by its parameters
    "create": create,
    "read": read,
    "replace": replace,
    "update": update,
    "update_by_body": update_by_body,
    "upsert": upsert,
    "delete": delete,
    "action": action,
}
