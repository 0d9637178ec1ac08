"""Generated numbers (``x-sandbox-sequence``) and unique fields (``x-sandbox-unique``), on every resource.

- ``rules.sequences``: two records created without the field get numbers that follow the declared
  pattern (``INV-{:06d}``: ``INV-`` and at least six digits; the field's schema ``pattern`` too), differ,
  and count up; where records can be deleted, one created after the first is deleted still gets a new
  number (a counter, not the count of records plus one).
- ``rules.unique``: a create, or an update, sending a unique field's value another record holds is
  refused with a documented client error, creating or changing nothing.
"""

from __future__ import annotations

import re
from typing import Any

from contracts.results import Failure
from contracts.rules.catalog import Catalog, Kind, refusals, sequence_pattern
from contracts.rules.common import Skip
from contracts.rules.context import Context, Findings
from contracts.rules.refusals import expect_refused
from contracts.security.spec_view import main_type

SEQUENCE_RULE = "rules.sequences"
UNIQUE_RULE = "rules.unique"
DIGITS = re.compile(r"[0-9]+")


def check_sequences(ctx: Context) -> list[Failure]:
    """Numbers generated for two new records follow the declared sequence, differ and count up."""
    catalog = ctx.catalog
    kinds = [kind for kind in catalog.kinds.values() if kind.sequences]
    if not kinds:
        raise Skip("the spec declares no x-sandbox-sequence field on a resource that can be created, read and listed")
    found = Findings(ctx)
    for kind in kinds:
        body = catalog.body(kind)
        if body is None:
            found.note(f"{kind.res.collection}: no valid create body")
            continue
        made = [catalog.post(kind, body) for _ in range(2)]
        delete = kind.res.item_op("DELETE")
        if delete is not None and made[0][1] is not None and made[1][1] is not None:
            first_id = kind.res.id_of(made[0][1])
            if catalog.act(delete, first_id).status_code < 300:
                made = [made[1], catalog.post(kind, body)]  # the number after a delete
                if made[1][1] is None:
                    found.add(
                        SEQUENCE_RULE,
                        f"after {kind.name} {first_id} was deleted, POST {kind.res.collection} without "
                        f"{', '.join(sorted(kind.sequences))} answered {made[1][0].status_code}: a generated number "
                        "must be a new one, never one a record holds",
                        made[1][0],
                    )
                    continue
        for name, template in sorted(kind.sequences.items()):
            _sequence(found, kind, name, template, made)
    return found.failures


def _sequence(found: Findings, kind: Kind, name: str, template: str, made: list[tuple[Any, Any]]) -> None:
    """The numbers of two records created one after the other."""
    numbers = []
    for response, record in made:
        if record is None:
            found.add(SEQUENCE_RULE, f"setup: POST {kind.res.collection} without {name} must create a record", response)
            return
        number = record.get(name)
        pattern = sequence_pattern(template)
        declared = kind.prop(name).get("pattern")
        if not isinstance(number, str) or not pattern.match(number):
            found.add(SEQUENCE_RULE, f"{name} {number!r} does not follow the sequence {template}", response)
            return
        if isinstance(declared, str) and re.search(declared, number) is None:
            found.add(SEQUENCE_RULE, f"{name} {number!r} does not match the field's pattern {declared}", response)
            return
        numbers.append(number)
    first, second = numbers
    last_response = made[1][0]
    if first == second:
        found.add(SEQUENCE_RULE, f"two new {kind.name} records were both numbered {first}", last_response)
    elif [int(d) for d in DIGITS.findall(second)] <= [int(d) for d in DIGITS.findall(first)]:
        found.add(SEQUENCE_RULE, f"{name} counts down: {first}, then {second}", last_response)


def check_unique(ctx: Context) -> list[Failure]:
    """A value of a unique field another record holds is refused, on create and on update."""
    catalog = ctx.catalog
    kinds = [kind for kind in catalog.kinds.values() if set(kind.unique) & set(kind.writable)]
    if not kinds:
        raise Skip("the spec declares no writable x-sandbox-unique field on a resource that can be created and read")
    found = Findings(ctx)
    checked = 0
    for kind in kinds:
        for name in sorted(set(kind.unique) & set(kind.writable)):
            checked += _unique(catalog, found, kind, name)
    if not checked:
        raise Skip("no unique field could be exercised: " + "; ".join(ctx.notes[:6]))
    return found.failures


def fresh_value(catalog: Catalog, prop: dict[str, Any]) -> Any:
    """A value of a field no record holds yet: a run-unique token for text, else a valid sample."""
    if main_type(prop) == "string" and not any(prop.get(k) for k in ("format", "pattern", "enum")):
        return catalog.fixtures.unique()[: int(prop.get("maxLength", 255))]
    return catalog.fixtures.field_value("", prop, {})


def _unique(catalog: Catalog, found: Findings, kind: Kind, name: str) -> int:
    """Create a record, then try its value of ``name`` on a new record and on another one."""
    body = catalog.body(kind)
    if body is not None and body.get(name) is None and name not in kind.sequences:
        body[name] = fresh_value(catalog, kind.writable[name])  # an optional unique field, set to repeat it
    first = catalog.post(kind, body)[1] if body is not None else None
    value = first.get(name) if first is not None else None
    if body is None or value is None:
        found.note(f"{kind.res.collection} {name}: no record holding a value to repeat")
        return 0
    create = kind.res.create
    assert create is not None
    again = catalog.body(kind, {name: value}) or {}
    response, twin = catalog.post(kind, again)
    made = f", creating {kind.res.id_of(twin)}" if twin is not None else ""
    where = f"POST {kind.res.collection} with the {name} {value!r} of {kind.res.id_of(first)}"
    noted = f"POST {kind.res.collection} repeating {name}"
    if not expect_refused(found, UNIQUE_RULE, where, response, refusals(create), name, made=made, noted=noted):
        return 1
    update = kind.res.item_op("PATCH")
    if update is None or name not in ((update.body_schema or {}).get("properties") or {}):
        return 1
    other = catalog.post(kind, catalog.body(kind) or {})[1]
    if other is None:
        return 1
    other_id = kind.res.id_of(other)
    _, before = catalog.read(kind, other_id)
    changed = catalog.act(update, other_id, kind.res.wrap(update, {name: value}))
    after_answer, after = catalog.read(kind, other_id)
    where = f"PATCH {kind.res.item} ({other_id}) to the {name} {value!r} of {kind.res.id_of(first)}"
    if changed.status_code not in refusals(update):
        found.add(UNIQUE_RULE, f"{where} must be refused; it answered {changed.status_code}", changed)
    elif after != before:
        found.add(UNIQUE_RULE, f"{where}: refused, yet the record changed", after_answer)
    return 1
