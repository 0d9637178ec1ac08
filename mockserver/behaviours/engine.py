"""The behaviour engine: picks the answer for each operation and owns the generic record rules."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from mockserver.behaviours import records
from mockserver.behaviours.completion import Completion
from mockserver.behaviours.context import Call, Reply, TokenIssuer
from mockserver.behaviours.crud import GENERIC
from mockserver.behaviours.events import Emitter
from mockserver.behaviours.fitting import ExampleFitter
from mockserver.behaviours.hiding import Hidden, WriteOnlyFinder, forbidden_in, without_hidden
from mockserver.behaviours.hooks import Hooks, Write
from mockserver.behaviours.offload import Offload
from mockserver.behaviours.registry import Behaviours
from mockserver.behaviours.scoping import label
from mockserver.errors import Conflict, NotFound, ValidationFailed
from mockserver.spec import Operation, Resource, SpecIndex
from mockserver.spec.conform import conform
from mockserver.spec.events import declared_events
from mockserver.spec.nesting import HIDDEN_PARENT
from mockserver.spec.pages import PageFacts
from mockserver.spec.resolve import has_type_in, schema_types
from mockserver.state.clock import Clock
from mockserver.state.fake import FakeRecordFactory
from mockserver.store import Query, Record, RecordId, Store, Tenant


class Engine:
    """Everything behaviours share: the index, the store, the clock and the per-resource rule hooks."""

    def __init__(self, index: SpecIndex, store: Store, clock: Clock, offload: Offload | None = None) -> None:
        self.index = index
        self.store = store
        self.clock = clock
        self.offload = offload if offload is not None else Offload()  # where CPU-heavy work (PDFs) runs
        self.hooks = Hooks()  # the domain's and the platform's rule hooks, run by ``write``
        self.issuer: TokenIssuer | None = None
        self.behaviours = Behaviours()  # filled by the domain the spec asked for, if any
        self.domain: str | None = None
        self.tenant_field: str | None = None  # the field a domain stamps with the owning company's id
        self.fake = FakeRecordFactory(0, clock.today())
        self._fitter = ExampleFitter(lambda name, schema: self.fake.value(name, schema, lambda _resource: None))
        self._examples: dict[str, Any] = {}  # operation id -> its success example, fitted to its schema
        self.completion = Completion()  # what each schema needs filled and numbered, worked out once
        self.company_profiles: dict[int, dict[str, Any]] = {}  # each company's fixture profile (name, currency...)
        self.reseed: Callable[[], None] | None = None
        self._followed: dict[int, int] = {}
        self.hidden: dict[str, frozenset[str]] = {
            op.operation_id: _hidden_fields(op) | _parent_key(index.resources.get(op.resource or ""))
            for op in index.operations
        }
        finder = WriteOnlyFinder()
        self.hidden_inside: dict[str, Hidden] = {
            op.operation_id: inside for op in index.operations if (inside := finder.inside(_shown_record_schema(op)))
        }
        self.only: dict[str, frozenset[str]] = {
            op.operation_id: only
            for op in index.operations
            if (only := _only_fields(op, index.resources.get(op.resource or ""))) is not None
        }
        declared = declared_events(index.document, index.resources, {op.operation_id for op in index.operations})
        unshown = {name: r.write_only | _parent_key(r) for name, r in index.resources.items()}
        unshown_inside = {name: inside for name, r in index.resources.items() if (inside := finder.inside(r.schema))}
        self.events = Emitter(declared, unshown, clock, unshown_inside)
        self.on_events: Callable[[], None] | None = None  # told after a commit that queued webhook deliveries

    def watch(self, tenant: Tenant) -> None:
        """Record the transaction's writes to resources that events are declared on."""
        tenant.watched = self.events.watched

    def emit(self, tenant: Tenant, operation_id: str | None) -> int:
        """Queue the webhook deliveries the transaction's writes caused (before it commits)."""
        return self.events.emit(tenant, operation_id)

    def notify(self, queued: int) -> None:
        """After a commit: wake the delivery workers if deliveries were queued."""
        if queued and self.on_events is not None:
            self.on_events()

    def dispatch(self, call: Call) -> Reply:
        """Answer a call: its operation's behaviour, else the generic kind, else the documented example."""
        operation = call.operation
        answer = self.behaviours.lookup(operation.operation_id) or GENERIC.get(operation.kind)
        if answer is None:
            self._require_named_records(call)
            return self.documented_example(operation)
        reply = answer(call, self)
        if 200 <= reply.status < 300 and not operation.success.content:
            reply.body = reply.raw = None
        return reply

    def _require_named_records(self, call: Call) -> None:
        """404 when a record the path names does not exist: a documented answer about it would be a lie."""
        for level in call.operation.names_records:
            resource = self.index.resources.get(level.resource)
            sent = call.params.get(level.param)
            if resource is None or sent is None:
                continue
            if call.tenant.get(resource.name, resource.identity.coerce(sent)) is None:
                raise NotFound(f"No {label(resource)} with {resource.id_field} {sent} exists.")

    def follow_clock(self, company_id: int) -> None:
        """Apply date-driven rules (OVERDUE, EXPIRED) once per sandbox day per company, in their own transaction."""
        today = self.clock.today()
        if not self.hooks.clock_rules or self._followed.get(company_id) == today.toordinal():
            return
        with self.store.tenant(company_id) as tenant:  # the database serialises two workers doing this
            self.watch(tenant)
            self.apply_clock_rules(tenant, today)
            queued = self.emit(tenant, None)
        self._followed[company_id] = today.toordinal()
        self.notify(queued)

    def forget_followed(self) -> None:
        """Forget which days the clock rules ran here (the clock moved, or the state was reset or imported)."""
        self._followed = {}

    def apply_clock_rules(self, tenant: Tenant, today: dt.date) -> None:
        """Run each clock rule over its candidate records unless it already ran today."""
        for resource, rule in self.hooks.clock_rules.items():
            marker = f"{resource}#clock"
            if tenant.counter(marker) == today.toordinal():
                continue
            for where in rule.candidates(today):
                for record in tenant.find(resource, Query(where=where)):
                    before = copy.deepcopy(record)
                    rule.apply(record, tenant, self.clock)
                    if record != before:
                        self.write(tenant, self.index.resources[resource], Write.ACTION, before, record)
            tenant.set_counter(marker, today.toordinal())

    def reset(self) -> None:
        """Put every company's data back to the seeded baseline (a saved copy, else a fresh seeding)."""
        self.forget_followed()
        if not self.store.restore_baseline() and self.reseed is not None:
            self.reseed()

    def has_behaviour(self, operation: Operation) -> bool:
        """Whether an operation is answered by real behaviour rather than its documented example."""
        return self.behaviours.lookup(operation.operation_id) is not None or operation.kind in GENERIC

    def new_record(
        self, tenant: Tenant, resource: Resource, body: dict[str, Any], parent: tuple[str, Any] | None = None
    ) -> Record:
        """Create and store a record from a client body, or raise 409/422 (the transaction then rolls back).

        ``parent`` is the key and value a child collection's record keeps its parent's id in (the path wins).
        """
        build = functools.partial(self._build, tenant, resource, body, parent)
        record = self.write(tenant, resource, Write.CREATE, None, build, sent=body)
        assert record is not None
        return record

    def write(
        self,
        tenant: Tenant,
        resource: Resource,
        kind: Write,
        before: Record | None,
        after: Record | Callable[[], Record | None] | None,
        *,
        sent: Any = None,
        record_id: RecordId | None = None,
    ) -> Record | None:
        """The one write pipeline: guard ``before``, build ``after`` (None deletes), derive, store, after-write.

        Every create, replace, update, delete, action and seed runs through here, so a domain's hooks
        see every write the same way, whichever rule or route made it. ``after`` may be a function
        that builds the record, so that guards refuse (409) before the body is looked at (422).
        """
        name = resource.name
        guards = self.hooks.delete_guards if kind is Write.DELETE else self.hooks.edit_guards if kind.edits else {}
        if before is not None:
            for guard in guards.get(name, []):
                guard(before, tenant)
        if callable(after):
            after = after()
        if after is None:
            if before is not None:
                tenant.delete(name, before[resource.id_field] if record_id is None else record_id)
        else:
            self._derive(tenant, resource, kind, after, sent, before)
            if records.is_pending(after.get(resource.id_field)):
                self._take_id(tenant, resource, after, sent)
            tenant.put(name, after[resource.id_field] if record_id is None else record_id, after)
        self.written(resource, before, after, tenant)
        return after

    def _derive(
        self, tenant: Tenant, resource: Resource, kind: Write, record: Record, sent: Any, before: Record | None
    ) -> None:
        """The derive step of a write: what its kind implies, then the domain's derive hooks.

        Created, rewritten and seeded records are completed the same way (``Completion``) before derive.
        """
        name = resource.name
        if kind.from_client:  # readOnly, reference and uniqueness rules, then what clients may not write
            derive = self.hooks.derive.get(name, [])
            records.finish(record, sent, resource, tenant, self.clock, derive, self.completion, before)
            for check in self.hooks.client_checks.get(name, []):
                check(record, tenant, self.clock)
        elif kind is Write.SEED:  # the same derive hooks, on a record the faker and the seed fixes made
            self.completion.complete(record, resource, tenant, self.clock, seeded=True)
            for function in self.hooks.derive.get(name, []):
                function(record, tenant, self.clock)
            records.in_schema_order(record, resource.schema)
        elif kind is Write.ACTION:  # a state the record moved to may mean something today (OVERDUE)
            rule = self.hooks.clock_rules.get(name)
            if rule is not None:
                rule.apply(record, tenant, self.clock)

    def new_id(self, tenant: Tenant, resource: Resource) -> int | str:
        """A fresh id of the resource's kind (counter, uuid or prefixed token), derived from its counter."""
        identity = resource.identity
        while True:
            candidate = identity.make(resource.name, tenant.company_id, tenant.next_id(resource.name))
            if identity.is_integer or tenant.get(resource.name, candidate) is None:
                return candidate

    def _take_id(self, tenant: Tenant, resource: Resource, record: Record, sent: Any) -> None:
        """Give a checked new record its id from the counter; a readOnly id the client sent must be that one."""
        field = resource.id_field
        record[field] = self.new_id(tenant, resource)
        if isinstance(sent, dict) and field in sent:
            errors = records.read_only_mismatches({field: sent[field]}, record, resource.schema)
            if errors:
                raise ValidationFailed(errors)

    def _build(
        self, tenant: Tenant, resource: Resource, body: dict[str, Any], parent: tuple[str, Any] | None
    ) -> Record:
        record = records.creatable(body, resource)
        if parent is not None:
            record[parent[0]] = parent[1]
        field = resource.id_field
        if resource.identity.generated or record.get(field) is None:
            # An integer id comes from its counter only once the record is checked (``_take_id``).
            record[field] = records.PENDING_ID if resource.identity.is_integer else self.new_id(tenant, resource)
        elif tenant.get(resource.name, record[field]) is not None:
            raise Conflict(f"A record with {field} {record[field]!r} already exists.")
        records.assign_sequences(record, resource, tenant)
        records.stamp(record, resource, self.clock, created=True, owner=self.owner(tenant))
        return record

    def owner(self, tenant: Tenant) -> tuple[str, int] | None:
        """The field and company id a new record is stamped with (None unless the domain names a tenant field)."""
        return None if self.tenant_field is None else (self.tenant_field, tenant.company_id)

    def written(self, resource: Resource, before: Record | None, after: Record | None, tenant: Tenant) -> None:
        """Run the after-write hooks of a resource (``after`` is None for a delete)."""
        for hook in self.hooks.after_write.get(resource.name, []):
            hook(before, after, tenant, self.clock)

    def render_item(self, call: Call, record: Record) -> Any:
        """A record as the operation's response shows it (writeOnly fields removed, in its envelope).

        A response that shows something other than the record (a deletion notice, a job) is its
        documented example, or fake data of its schema, carrying the record's fields it has.
        """
        shown = self._shown(call.operation, record)
        envelope = call.operation.item_envelope
        if not envelope.holds_record:
            return self._projected(call.operation, shown)
        return envelope.wrap(shown)

    def render_items(self, call: Call, made: Sequence[Record]) -> Any:
        """Records one call wrote, as its response shows them: all in a list wrapper, else the first."""
        if len(made) == 1 or not call.operation.item_envelope.holds_record:
            return self.render_item(call, made[0])
        return call.operation.item_envelope.wrap_all([self._shown(call.operation, r) for r in made])

    def _shown(self, operation: Operation, record: Record) -> Record:
        """The record without the fields its response forbids (writeOnly ones; any a closed schema lacks)."""
        hidden = self.hidden.get(operation.operation_id)
        only = self.only.get(operation.operation_id)
        if only is not None:
            shown = {k: v for k, v in record.items() if k in only and not (hidden and k in hidden)}
        else:
            shown = {k: v for k, v in record.items() if k not in hidden} if hidden else record
        inside = self.hidden_inside.get(operation.operation_id)
        return without_hidden(shown, inside) if inside else shown

    def _projected(self, operation: Operation, record: Record) -> Any:
        """The operation's documented body with the fields it shares with ``record`` taken from the record."""
        body = self.documented_example(operation).body
        schema = operation.success.json_schema or {}
        properties = schema.get("properties") or {}
        if isinstance(body, dict):
            for name, sub in properties.items():
                if name in record and isinstance(sub, dict) and _fits(record[name], sub):
                    body[name] = without_hidden(record[name], forbidden_in(sub))
        return body

    def shows_as_stored(self, call: Call) -> bool:
        """Whether the operation's response shows records as they are stored (no field to hide)."""
        return self._plain(call.operation.operation_id)

    def _plain(self, operation_id: str) -> bool:
        """Whether an operation shows records whole: no field to leave out at any depth, no closed schema."""
        return (
            not self.hidden.get(operation_id)
            and operation_id not in self.only
            and operation_id not in self.hidden_inside
        )

    def render_list(self, call: Call, rows: Sequence[Any], page: PageFacts | None = None) -> tuple[Any, dict[str, str]]:
        """A page of records in the operation's list envelope, and the page headers it documents."""
        operation = call.operation
        plain = self._plain(operation.operation_id)
        data = rows if plain else [self._shown(operation, r) for r in rows]
        envelope = call.operation.list_envelope
        if envelope is None:
            return data, {}
        return envelope.wrap(data, page)

    def documented_example(self, operation: Operation) -> Reply:
        """The documented example (else a fake value of the schema) for operations no rule describes."""
        success = operation.success
        if not success.content:
            return Reply(operation.success_status)
        schema = success.json_schema
        example = self._fitted_example(operation)
        if example is None and schema is not None:
            example = self.fake.value("response", schema, lambda _resource: None)
        if schema is not None:
            media = next(m for m in success.content if m.endswith("json"))
            return Reply(operation.success_status, example, content_type=media)
        media = next(iter(success.content))
        raw = example if isinstance(example, bytes) else str(example or "").encode()
        return Reply(operation.success_status, raw=raw, content_type=media)

    def _fitted_example(self, operation: Operation) -> Any:
        """The success example in its schema's types, the parts its schema refuses made anew (fitted once)."""
        key = operation.operation_id
        if key not in self._examples:
            schema = operation.success.json_schema
            example = conform(copy.deepcopy(operation.success.example), schema)
            if example is not None and schema is not None:
                example = self._fitter.fitted(example, schema)
            self._examples[key] = example
        return copy.deepcopy(self._examples[key])


def _shown_record_schema(operation: Operation) -> Any:
    """The schema of a record as the operation's success response shows it (a list's row), or None."""
    schema = operation.success.json_schema
    if not schema:
        return None
    listed = operation.list_envelope
    if listed is not None:
        rows = (schema.get("properties") or {}).get(listed.items) if listed.items else schema
        return listed.item.record_schema(rows.get("items") if isinstance(rows, dict) else None)
    return operation.item_envelope.record_schema(schema)


def _hidden_fields(operation: Operation) -> frozenset[str]:
    """Record fields the operation's response schema forbids (the writeOnly ones)."""
    data = _shown_record_schema(operation)
    properties = data.get("properties") if isinstance(data, dict) else None
    if not isinstance(properties, dict):
        return frozenset()
    return frozenset(name for name, sub in properties.items() if sub is False)


def _only_fields(operation: Operation, resource: Resource | None) -> frozenset[str] | None:
    """The fields a closed response schema (``additionalProperties: false``) allows, where records may hold others.

    None when the response is open, or when the records are stored under a closed schema with no field
    the response lacks (they can hold nothing else: lists then go out as stored).
    """
    data = _shown_record_schema(operation)
    if not isinstance(data, dict) or data.get("additionalProperties") is not False:
        return None
    allowed = frozenset(name for name, sub in (data.get("properties") or {}).items() if sub is not False)
    stored = resource.schema if resource is not None else {}
    if stored.get("additionalProperties") is False and set(stored.get("properties") or ()) <= allowed:
        return None
    return allowed


def _parent_key(resource: Resource | None) -> frozenset[str]:
    """The hidden key a child collection's record keeps its parent's id in, when its schema has no field for it."""
    return frozenset({HIDDEN_PARENT}) if resource is not None and resource.parent_key == HIDDEN_PARENT else frozenset()


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """Whether a value has a JSON type a schema admits (or it names none) and is its const or one of its enum."""
    if not records.in_enum_and_const(schema, value):
        return False  # a deletion notice's ``object: "assistant.deleted"`` is not the record's ``"assistant"``
    types = schema_types(schema)
    return not types or has_type_in(value, types)
