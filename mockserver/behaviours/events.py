"""Turn a transaction's writes into events and queue their deliveries in the same transaction (an outbox).

The store records every write to a watched resource (``Tenant.changes``), whichever rule made it: an
operation, an action, a payment settling an invoice, the clock making it OVERDUE. Before the
transaction commits, ``Emitter.emit`` matches those changes against the spec's declared events
(``mockserver.spec.events``) and stores one pending delivery per subscribed, active webhook, so an
event is never lost to a restart and never sent for a change that rolled back.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mockserver.behaviours.hiding import Hidden, without_hidden
from mockserver.spec.events import EventSpec, Trigger
from mockserver.state.clock import Clock
from mockserver.store import Change, Condition, Query, Record, Tenant

WEBHOOKS = "webhooks"
DELIVERIES = "deliveries"
_EVENT_COUNTER = "events#id"
MAX_PENDING = 10_000  # deliveries waiting per company; past it new ones are recorded as failed, not queued
LISTENERS_KEPT = 1_024  # companies whose webhooks an emitter keeps between transactions (then it starts over)


@dataclass(frozen=True)
class Fired:
    """One event that happened: its name and the record it is about, as the API shows it."""

    event: str
    data: Record


class Emitter:
    """Matches changes to declared events and writes the deliveries they cause."""

    def __init__(
        self,
        events: Sequence[EventSpec],
        hidden: Mapping[str, frozenset[str]],
        clock: Clock,
        hidden_inside: Mapping[str, Hidden] | None = None,
    ) -> None:
        self._events = list(events)
        self._hidden = hidden  # writeOnly fields per resource: never in a payload
        self._hidden_inside = hidden_inside or {}  # and the writeOnly fields nested in them
        self._clock = clock
        self.max_pending = MAX_PENDING
        self._listeners: dict[int, tuple[Hashable, list[Record]]] = {}  # company -> (rows' version, its webhooks)
        self.watched = frozenset(t.resource for e in self._events for t in e.triggers)
        # Per resource, the events with a trigger on it (in declared order): a write looks at a few, not all.
        self._on: dict[str, list[EventSpec]] = {
            resource: [e for e in self._events if any(t.resource == resource for t in e.triggers)]
            for resource in self.watched
        }

    def fired(self, changes: Iterable[Change], operation_id: str | None) -> list[Fired]:
        """The events a transaction's changes amount to, in the order the records were first written."""
        fired: list[Fired] = []
        for resource, before, after in _collapsed(changes):
            if before == after:
                continue
            candidates = self._on.get(resource, ())
            specific = [
                e for e in candidates if any(_specific(t, resource, before, after, operation_id) for t in e.triggers)
            ]
            kind = "created" if before is None else "deleted" if after is None else "updated"
            generic = [
                e
                for e in candidates
                if any(t.resource == resource and t.kind == kind for t in e.triggers)
                and not (kind == "updated" and specific)
            ]
            shown = self._shown(resource, after if after is not None else before)
            fired.extend(Fired(e.name, shown) for e in [*generic, *specific])
        return fired

    def emit(self, tenant: Tenant, operation_id: str | None) -> int:
        """Queue a delivery of each event the transaction caused to each webhook subscribed to it."""
        changes, tenant.changes = tenant.changes, []
        if not changes:
            return 0
        webhooks = self._listening(tenant)
        subscribed = {e for webhook in webhooks for e in webhook.get("events") or () if isinstance(e, str)}
        if not any(e.name in subscribed for change in changes for e in self._on.get(change.resource, ())):
            return 0  # nobody listens to what these writes may fire: no event to work out (inside the write lock)
        fired = self.fired(changes, operation_id)
        queued = 0
        for event in fired:
            targets = [w for w in webhooks if event.event in (w.get("events") or [])]
            if targets:
                payload = self.payload(tenant, event)
                for webhook in targets:
                    self.queue(tenant, webhook, payload)
                    queued += 1
        return queued

    def _listening(self, tenant: Tenant) -> list[Record]:
        """The company's active webhooks: kept from the last transaction that read them while none was written."""
        token = tenant.change_token(WEBHOOKS)
        kept = self._listeners.get(tenant.company_id)
        if token is not None and kept is not None and kept[0] == token:
            return kept[1]
        webhooks = [w for w in tenant.find(WEBHOOKS, Query()) if w.get("active", True) is not False]
        if token is not None:
            if len(self._listeners) >= LISTENERS_KEPT:
                self._listeners.clear()
            self._listeners[tenant.company_id] = (token, webhooks)
        return webhooks

    def payload(self, tenant: Tenant, event: Fired) -> dict[str, Any]:
        """The body every delivery of one event carries: ``{"id", "event", "timestamp", "data"}``."""
        number = tenant.counter(_EVENT_COUNTER) + 1
        tenant.set_counter(_EVENT_COUNTER, number)
        return {"id": f"evt_{number}", "event": event.event, "timestamp": self._clock.timestamp(), "data": event.data}

    def queue(self, tenant: Tenant, webhook: Record, payload: dict[str, Any]) -> Record:
        """Store one pending delivery of a payload to a webhook, due now."""
        now = self._clock.timestamp()
        delivery: Record = {
            "id": tenant.next_id(DELIVERIES),
            "webhook_id": webhook["id"],
            "event": payload["event"],
            "event_id": payload["id"],
            "status": "pending",
            "attempts": 0,
            "response_status": None,
            "created_at": now,
            "next_attempt_at": self._clock.precise_timestamp(),  # the retries' format: the outbox sorts by it
            "payload": payload,
            "attempt_log": [],
        }
        pending = tenant.count(DELIVERIES, [Condition("status", "eq", "pending")])
        if pending >= self.max_pending:  # a receiver that never answers must not grow the outbox without end
            refusal = f"not sent: {pending} deliveries of this company are already waiting (the outbox is full)"
            delivery.update(status="failed", next_attempt_at=None)
            delivery["attempt_log"] = [{"at": now, "status": None, "latency_ms": 0.0, "error": refusal}]
        tenant.put(DELIVERIES, delivery["id"], delivery)
        return delivery

    def _shown(self, resource: str, record: Record | None) -> Record:
        hidden = self._hidden.get(resource, frozenset())
        shown = {k: v for k, v in (record or {}).items() if k not in hidden}
        inside = self._hidden_inside.get(resource)
        return without_hidden(shown, inside) if inside else shown


def _specific(
    trigger: Trigger, resource: str, before: Record | None, after: Record | None, operation: str | None
) -> bool:
    """Whether a transition or operation trigger fires for one record's change."""
    if trigger.resource != resource or after is None:
        return False
    if trigger.operation is not None:
        return trigger.operation == operation
    if trigger.field is None or before is None:
        return False  # a record is created in a state; it does not "become" it
    return bool(before.get(trigger.field) != trigger.value and after.get(trigger.field) == trigger.value)


def _collapsed(changes: Iterable[Change]) -> list[tuple[str, Record | None, Record | None]]:
    """One (resource, first before, last after) per record written, in the order first written."""
    merged: dict[tuple[str, str], list[Any]] = {}
    for change in changes:
        key = (change.resource, repr(change.record_id))
        if key in merged:
            merged[key][2] = change.after
        else:
            merged[key] = [change.resource, change.before, change.after]
    return [(str(r), b, a) for r, b, a in merged.values()]
