"""References (``x-sandbox-ref``): a write naming no record is refused; a referenced record may not be deleted.

- ``rules.references``: for every writable reference field of every resource, a create naming an id the
  target does not have (checked: its GET is 404), or a record only another company sees (with the
  ``other`` key, when that company has one), is refused with a documented client error and creates
  nothing; an update (PATCH, PUT) naming it is refused and leaves the record as it was.
- ``rules.references.delete``: where a DELETE documents 409, the spec's description says which records
  block it ("a customer that has invoices, estimates or payments cannot be deleted"): the resources it
  names that reference this one through a writable field. For each, a fresh record referenced by a fresh
  referrer must be refused (409) and stay readable, and be deletable once the referrer is gone. A DELETE
  whose description names no referencing resource is not checked (noted); one without 409 is not either
  (the spec leaves the referrers dangling, or cascades, and says neither).
"""

from __future__ import annotations

import re
from typing import Any

from contracts.results import Failure
from contracts.rules.catalog import Catalog, Kind, refusals
from contracts.rules.common import Skip
from contracts.rules.context import Context, Findings
from contracts.rules.refusals import expect_refused
from contracts.security.identity import singular
from contracts.security.resources import Resource
from contracts.security.spec_view import flatten, json_or_none, main_type

MAX_PAGES = 10  # pages of 100 walked to show a reference-data id missing
FAR_ID = 987_654_321  # an id no test company reaches (its GET is checked to be 404 first)
RULE = "rules.references"
DELETE_RULE = "rules.references.delete"


def check_references(ctx: Context) -> list[Failure]:
    """Writes naming a missing (or another company's) record are refused; nothing is created or changed."""
    catalog = ctx.catalog
    kinds = [kind for kind in catalog.kinds.values() if kind.refs]
    if not kinds:
        raise Skip("the spec marks no writable field of a creatable resource with x-sandbox-ref")
    found = Findings(ctx)
    checked = 0
    for kind in kinds:
        for name, collection in sorted(kind.refs.items()):
            for label, wrong in _wrong_ids(ctx, catalog, found, collection):
                checked += _refused_create(catalog, found, kind, name, label, wrong)
                checked += _refused_update(catalog, found, kind, name, label, wrong)
    if not checked:
        raise Skip("no reference could be exercised: " + "; ".join(ctx.notes[:6]))
    return found.failures


def _wrong_ids(ctx: Context, catalog: Catalog, found: Findings, collection: str) -> list[tuple[str, Any]]:
    """Ids a write must not name: one the target does not have, and one of another company's records."""
    res = catalog.fixtures.resources.get(collection)
    if res is None:
        found.note(f"{collection}: not a collection of the spec")
        return []
    wrong: list[tuple[str, Any]] = []
    far = _far_id(res.record.get("properties", {}).get(res.id_field))
    absent = _absent(catalog, res, far)
    if absent:
        wrong.append((f"missing {collection} {far}", far))
    else:
        found.note(f"{collection} {far}: {'exists' if absent is False else 'cannot be shown missing'}")
    other = catalog.fixtures.listed_id(collection, "other") if catalog.fixtures.has("other") else None
    if other is not None and res.get is not None and catalog.act(res.get, other).status_code == 404:
        wrong.append((f"another company's {collection} {other}", other))
    return wrong


def _absent(catalog: Catalog, res: Resource, record_id: Any) -> bool | None:
    """Whether the target lacks a record: its GET is 404, or no page of its list holds it (None: unknown)."""
    if res.get is not None:
        status = catalog.act(res.get, record_id).status_code
        return True if status == 404 else (False if status == 200 else None)
    listing = res.listing
    declared = {str(p.get("name")) for p in listing.query_params()} if listing is not None else set()
    if listing is None or not {"page", "limit"} <= declared:
        return None
    for page in range(1, MAX_PAGES + 1):
        response = catalog.fixtures.send(catalog.client, listing, listing.path, params={"page": page, "limit": 100})
        rows = res.rows_of(json_or_none(response)) if response.status_code == 200 else None
        if rows is None:
            return None
        if any(res.id_of(row) == record_id for row in rows):
            return False
        if len(rows) < 100:
            return True
    return None


def _far_id(prop: Any) -> Any:
    """An id far past any a test company has, of the id's type (a string id gets a made-up token)."""
    schema = flatten(prop) if isinstance(prop, dict) else {}
    if main_type(schema) in ("integer", "number", ""):
        top = schema.get("maximum")
        return min(FAR_ID, int(top)) if isinstance(top, int | float) else FAR_ID
    return f"missing-{FAR_ID}"


def _refused_create(catalog: Catalog, found: Findings, kind: Kind, name: str, label: str, wrong: Any) -> int:
    body = catalog.body(kind, {name: wrong})
    create = kind.res.create
    if body is None or create is None:
        found.note(f"{kind.res.collection}: no valid create body to vary")
        return 0
    response, record = catalog.post(kind, body)
    made = f" (it created {kind.res.id_of(record)})" if record is not None else ""
    where = f"POST {kind.res.collection} with {name} naming {label}"
    expect_refused(found, RULE, where, response, refusals(create), name, made=made)
    return 1


def _refused_update(catalog: Catalog, found: Findings, kind: Kind, name: str, label: str, wrong: Any) -> int:
    """PATCH (the field alone) and PUT (a whole valid body) naming ``wrong`` are refused; the record stays."""
    checked = 0
    for method in ("PATCH", "PUT"):
        update = kind.res.item_op(method)
        props = (update.body_schema or {}).get("properties", {}) if update is not None else {}
        if update is None or name not in props:
            continue
        body = catalog.body(kind)
        made = catalog.post(kind, body)[1] if body is not None else None
        if body is None or made is None:
            found.note(f"{kind.res.collection}: no record to update")
            continue
        record_id = kind.res.id_of(made)
        _, before = catalog.read(kind, record_id)
        sent = {name: wrong} if method == "PATCH" else {**body, name: wrong}
        response = catalog.act(update, record_id, kind.res.wrap(update, sent))
        after_answer, after = catalog.read(kind, record_id)
        where = f"{method} {kind.res.item} with {name} naming {label}"
        if expect_refused(found, RULE, where, response, refusals(update), name) and after != before:
            found.add(RULE, f"{where}: refused, yet the record changed", after_answer)
        checked = 1
    return checked


def check_delete_blocked(ctx: Context) -> list[Failure]:
    """A record the DELETE's description says its referrers block is refused (409) while referenced."""
    catalog = ctx.catalog
    found = Findings(ctx)
    checked = 0
    for kind in catalog.kinds.values():
        delete = kind.res.item_op("DELETE")
        if delete is None or "409" not in delete.responses:
            continue
        text = catalog.description(delete)
        named = [other for other in catalog.kinds.values() if _names(text, other)]
        pairs = [(other, f) for other in named for f, c in sorted(other.refs.items()) if c == kind.res.collection]
        if not pairs:
            found.note(f"DELETE {kind.res.item} documents 409 but names no resource referencing it by a writable field")
        for other, name in pairs:
            checked += _blocked(catalog, found, kind, other, name)
    if not checked:
        raise Skip("no DELETE documents 409 for records others reference: " + ("; ".join(ctx.notes[:4]) or "none"))
    return found.failures


def _names(text: str, kind: Kind) -> bool:
    """Whether a description names a resource (``payments``, ``payment``; hyphens read as spaces)."""
    words = {kind.name.replace("-", " "), singular(kind.name).replace("-", " ")}
    return any(re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) for word in words)


def _blocked(catalog: Catalog, found: Findings, kind: Kind, other: Kind, name: str) -> int:
    """Delete a record ``other`` references by ``name``: 409 and still there; deletable once the referrer is gone."""
    delete = kind.res.item_op("DELETE")
    assert delete is not None
    body = catalog.body(kind)
    parent = catalog.post(kind, body)[1] if body is not None else None
    child_body = catalog.body(other, {name: kind.res.id_of(parent)}) if parent is not None else None
    child = catalog.post(other, child_body)[1] if child_body is not None else None
    if parent is None or child is None:
        found.note(f"{other.res.collection} naming a fresh {kind.name} record by {name}: could not be created")
        return 0
    parent_id = kind.res.id_of(parent)
    response = catalog.act(delete, parent_id)
    where = f"DELETE {kind.res.item} ({parent_id}, which {other.name} {other.res.id_of(child)} names by {name})"
    if response.status_code != 409:
        found.add(
            DELETE_RULE,
            f"{where}: the spec documents 409 while referenced; it answered {response.status_code}",
            response,
        )
        return 1
    still, _ = catalog.read(kind, parent_id)
    if still.status_code != 200:
        found.add(DELETE_RULE, f"{where}: refused with 409, yet the record reads {still.status_code}", still)
        return 1
    child_delete = other.res.item_op("DELETE")
    if child_delete is None or catalog.act(child_delete, other.res.id_of(child)).status_code >= 300:
        return 1
    again = catalog.act(delete, parent_id)
    if again.status_code >= 300 and _only_blocker(json_or_none(again), other):
        found.add(DELETE_RULE, f"{where}: still refused once that {singular(other.name)} was deleted", again)
    return 1


def _only_blocker(body: Any, other: Kind) -> bool:
    """Whether a refusal still blames the referrer just deleted (not another referrer the fixtures added)."""
    message = str(body.get("message") or "") if isinstance(body, dict) else ""
    return not message or _names(message, other)
