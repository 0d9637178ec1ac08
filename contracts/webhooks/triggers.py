"""Make each documented event happen through the API, as its ``x-sandbox-emit`` says, on records made for it.

``when: created`` creates a record of the resource (a body built like the security suite's: required fields,
examples, references to records it creates first; sent as the spec describes the request, through
``Context.send``: its create operation, required headers, body wrapper and media type, the id read where the
answer puts it); ``deleted`` deletes a fresh one; ``updated`` changes one
plain text field (PATCH, else PUT); ``operation: X`` calls X on a fresh record, first walking it to a state X
accepts (``x-sandbox-transition``); ``when: {field: value}`` follows the shortest chain of declared transitions
that makes the field become the value; where none does, a change the spec declares as the customer's
(``x-sandbox-customer-actions``, such as viewing an invoice) is simulated through the sandbox's control surface
(``POST /__sandbox/simulate/...``, with ``--admin-token``) once declared transitions reach one of its starting
states; else (a value that comes with time, such as OVERDUE) it takes a record whose dates are long past through
the transitions its state allows. An event without ``x-sandbox-emit`` is triggered by an operation of the
subscription itself that names it (``testWebhook`` for ``webhook.test``). What cannot be done is reported with
the reason, never dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from contracts.http import Client, curl
from contracts.meter import Throttled
from contracts.results import NO_ANSWER, RATE_LIMITED, Failure
from contracts.security.fixtures import Context, Created
from contracts.security.resources import Resource
from contracts.security.spec_view import Operation, Spec, json_or_none
from contracts.webhooks.judge import DELIVERY
from contracts.webhooks.spec import (
    CustomerAction,
    Emit,
    Event,
    Subscription,
    customer_actions_of,
    describes,
    route,
    transitions_of,
)


@dataclass
class Expect:
    """One event the suite caused and now waits for: which, about which record, and the request that caused it."""

    event: str
    resource: str
    record_id: Any
    trigger: str  # e.g. ``POST /invoices/12/send``
    reproduction: str  # the triggering request as curl
    at: float = field(default_factory=time.monotonic)


@dataclass
class Triggered:
    """What triggering one event came to: the deliveries to expect, or why none (skip or a request problem)."""

    event: Event
    expects: list[Expect] = field(default_factory=list)
    skip: str = ""
    problems: list[Failure] = field(default_factory=list)


@dataclass
class Fresh:
    """A record made for one event: its resource, id, the body that created it, the create request (curl, name)."""

    resource: Resource
    id: Any
    body: dict[str, Any]
    data: dict[str, Any]
    reproduction: str
    trigger: str  # the create request, ``PUT /Things``


PAST = "2001-01-01"  # behind any target's today: a record dated then is as old as a record can be
CALENDAR_STEPS = 4
SIMULATE = "/__sandbox/simulate"  # a sandbox's control surface for what only the customer does, at the server root
NO_CONTROL = (401, 403, 404)  # answers of a target with no control surface (or that refuses the admin token)


def _date_fields(res: Resource) -> list[str]:
    """The top-level ``format: date`` members of the resource's create body."""
    schema = res.create.body_schema if res.create is not None else None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    return [name for name, sub in properties.items() if isinstance(sub, dict) and sub.get("format") == "date"]


class NotTriggered(Exception):
    """The event cannot be made to happen on this target (the message says why)."""


class Triggers:
    """Fires events on records it creates for them; remembers those records for cleanup."""

    def __init__(self, ctx: Context, spec: Spec, subscription: Subscription, subscription_id: Any) -> None:
        self.ctx = ctx
        self.spec = spec
        self.subscription = subscription
        self.subscription_id = subscription_id
        self.made: list[tuple[Resource, Any]] = []
        self.deleted: set[tuple[str, str]] = set()
        self._control: Client | None = None

    @property
    def client(self) -> Client:
        """The full key's client."""
        return self.ctx.client("full")

    def fire(self, event: Event) -> Triggered:
        """Make ``event`` happen once (the first way its ``x-sandbox-emit`` allows), or say why it cannot."""
        result = Triggered(event)
        if event.problem:
            result.skip = f"its x-sandbox-emit cannot be read: {event.problem}"
            return result
        try:
            if not event.emits:
                result.expects.append(self._by_subscription(event))
                return result
            reasons: list[str] = []
            for emit in event.emits:
                try:
                    result.expects.append(self._by_emit(event, emit))
                    return result
                except NotTriggered as why:
                    reasons.append(str(why))
            result.skip = "; ".join(dict.fromkeys(reasons))
        except NotTriggered as why:
            result.skip = str(why)
        except Throttled as exc:
            result.problems.append(Failure(DELIVERY, f"could not trigger {event.name}: {exc}", status=RATE_LIMITED))
        except requests.RequestException as exc:
            failure = Failure(DELIVERY, f"could not trigger {event.name}: a request got no answer ({exc})")
            result.problems.append(Failure(failure.rule, failure.message, status=NO_ANSWER))
        return result

    # the ways an event is emitted

    def _by_subscription(self, event: Event) -> Expect:
        item = self.subscription.resource.item
        ops = [
            op
            for op in self.subscription.resource.item_ops
            if item and op.path != item and op.method == "POST" and describes(op, self.spec, event.name)
        ]
        if not ops:
            raise NotTriggered(
                "the spec does not say what emits it (no x-sandbox-emit), and no operation of the subscription names it"
            )
        response = self._call(ops[0], self.subscription_id, f"trigger {event.name}")
        return self._expect(event, self.subscription.resource, self.subscription_id, ops[0], response)

    def _by_emit(self, event: Event, emit: Emit) -> Expect:
        res = self._resource(emit.resource)
        record = self._create(res)
        record_id = record.id
        if emit.kind == "created":
            return Expect(event.name, res.name, record_id, record.trigger, record.reproduction)
        if emit.kind == "deleted":
            op = res.item_op("DELETE")
            if op is None:
                raise NotTriggered(f"{res.collection} has no DELETE operation")
            response = self._call(op, record_id, f"trigger {event.name}")
            self.deleted.add((res.collection, str(record_id)))
            return self._expect(event, res, record_id, op, response)
        if emit.kind == "updated":
            op, response = self._update(res, record)
            return self._expect(event, res, record_id, op, response)
        if emit.operation:
            op = next((o for o in res.item_ops if o.operation_id == emit.operation), None)
            if op is None or len(op.path_params) != 1:
                raise NotTriggered(f"operation {emit.operation} is not an action on one {res.name} record")
            chain = transitions_of(self.spec, res)
            declared = next((t for t in chain if t.operation.operation_id == emit.operation), None)
            if declared is not None and declared.sources:
                self._walk(res, record, declared.field, set(declared.sources), change=False, event=event)
            response = self._call(op, record_id, f"trigger {event.name}")
            return self._expect(event, res, record_id, op, response)
        if emit.field is not None:
            try:
                last = self._walk(res, record, emit.field, {emit.value}, change=True, event=event)
            except NotTriggered as unreachable:
                action = self._customer_action(res, emit.field, emit.value)
                if action is not None:
                    return self._by_the_customer(event, emit.resource, record, action)
                dated = self._by_the_calendar(event, res, emit.field, emit.value)
                if dated is None:
                    raise NotTriggered(f"{unreachable}; nor did a record dated {PAST} get there") from None
                return dated
            if last is None:  # a chain with change=True is never empty
                raise NotTriggered(f"{res.name} {record_id} is already {emit.value!r}")
            return self._expect(event, res, record_id, *last)
        raise NotTriggered(f"x-sandbox-emit {emit.describe()} is not something the suite can do")

    def _customer_action(self, res: Resource, name: str, goal: Any) -> CustomerAction | None:
        """The first action the spec declares as the customer's that makes ``name`` become ``goal``, if any."""
        return next((a for a in customer_actions_of(self.spec, res) if a.field == name and a.to == goal), None)

    def _by_the_customer(self, event: Event, resource: str, record: Fresh, action: CustomerAction) -> Expect:
        """Walk the record to a state the customer's action starts from, then have the sandbox simulate it."""
        token = self.ctx.target.admin_token
        if not token:
            raise NotTriggered(
                f"only the customer can make {_article(resource)} {resource} record {action.to}; the sandbox "
                f"simulates it at POST {SIMULATE}/{resource}/{{id}}/{action.name}: "
                "pass --admin-token <the sandbox's admin token>"
            )
        if action.sources:
            self._walk(record.resource, record, action.field, set(action.sources), change=False, event=event)
        path = f"{SIMULATE}/{quote(resource, safe='')}/{quote(str(record.id), safe='')}/{quote(action.name, safe='')}"
        response = self._simulate(path, action, token)
        reproduction = curl(response.request, self.ctx.target)
        return Expect(event.name, record.resource.name, record.id, f"POST {path}", reproduction)

    def _simulate(self, path: str, action: CustomerAction, token: str) -> requests.Response:
        """POST the simulate ``path`` with the admin token, naming the record's company by the full key."""
        response = self._admin(token).call("POST", path, json_body={"key": self.client.key})
        status = response.status_code
        if status in NO_CONTROL:
            refused = ", or it refused the admin token (--admin-token)" if status != 404 else ""
            raise NotTriggered(
                f"POST {path} answered {status}: the target has no sandbox control surface at {SIMULATE}"
                f"{refused}{_said(response)}"
            )
        if not 200 <= status < 300:
            raise NotTriggered(f"POST {path} (the customer's {action.name}) answered {status}{_said(response)}")
        return response

    def _admin(self, token: str) -> Client:
        """A client of the target's server root with the admin token, counted on the suite's meter like the rest."""
        if self._control is None:
            target = self.ctx.target
            parts = urlsplit(target.base_url)
            root = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
            self._control = Client(replace(target, base_url=root), role=None, key=token, bearer=True)
        return self._control

    def _by_the_calendar(self, event: Event, res: Resource, name: str, goal: Any) -> Expect | None:
        """A value no transition declares may come with time (OVERDUE, EXPIRED): date a record long ago, then try.

        Every date field of a fresh record is set to ``PAST``, far behind any target's today; then each declared
        transition the record's state allows is called in turn (at most ``CALENDAR_STEPS``) until a response
        shows ``name`` at ``goal``. Dates already past when a record is written decide its state at once, as
        they would after days had passed.
        """
        record = self._create(res, dated=True)
        state = record.data.get(name)
        tried: set[str] = set()
        for _ in range(CALENDAR_STEPS):
            step = next(
                (
                    t
                    for t in transitions_of(self.spec, res)
                    if t.field == name and state in t.sources and t.operation.operation_id not in tried
                ),
                None,
            )
            if step is None:
                return None
            tried.add(step.operation.operation_id)
            try:
                response = self._call(step.operation, record.id, f"trigger {event.name}")
            except NotTriggered:
                continue
            data = res.record_of(step.operation, json_or_none(response))
            state = data.get(name) if isinstance(data, dict) else step.to
            if state == goal:
                return self._expect(event, res, record.id, step.operation, response)
        return None

    # steps

    def _resource(self, name: str) -> Resource:
        for path in (f"/{name}", f"/{name.replace('_', '-')}"):
            res = self.ctx.resources.get(path)
            if res is not None:
                if res.create is None:
                    raise NotTriggered(f"{path} has no create operation, so the suite has no record of its own")
                return res
        raise NotTriggered(f"the spec has no collection path for the resource {name!r}")

    def _create(self, res: Resource, *, dated: bool = False) -> Fresh:
        """A fresh record of ``res`` (the security suite's minimal valid body, its dates at ``PAST`` if ``dated``)."""
        create = res.create
        if create is None:
            raise NotTriggered(f"{res.collection} has no create operation, so the suite has no record of its own")
        response: requests.Response | None = None
        for _ in range(2):
            body = self.ctx.build_body(res)
            if body is None:
                raise NotTriggered(f"a required reference of {res.collection} has no record to point at")
            if dated:
                body = {**body, **dict.fromkeys(_date_fields(res), PAST)}
            response = self.ctx.send(self.client, create, create.path, res.wrap(create, body))
            data = res.record_of(create, json_or_none(response))
            record_id = res.id_of(data)
            if response.status_code < 300 and isinstance(data, dict) and record_id is not None:
                self.made.append((res, record_id))
                reproduction = curl(response.request, self.ctx.target)
                return Fresh(res, record_id, body, data, reproduction, f"{create.method} {create.path}")
            if response.status_code != 422:
                break
        status = response.status_code if response is not None else "nothing"
        raise NotTriggered(f"{create.method} {create.path} answered {status}, so there is no record to trigger it on")

    def _update(self, res: Resource, record: Fresh) -> tuple[Operation, requests.Response]:
        """Change one plain text field of the record (PATCH, else PUT), in the body's wrapper if it has one."""
        patch, put = res.item_op("PATCH"), res.item_op("PUT")
        value = f"Contract {self.ctx.unique()}"
        if patch is not None and patch.body_schema is not None:
            name = self.ctx.marker_field(res.body_envelope(patch).inner(patch.body_schema))
            if name is not None:
                return patch, self._call(patch, record.id, "update", res.wrap(patch, {name: value}))
        if put is not None and put.body_schema is not None:
            name = self.ctx.marker_field(res.body_envelope(put).inner(put.body_schema))
            if name is not None:
                return put, self._call(put, record.id, "update", res.wrap(put, {**record.body, name: value}))
        raise NotTriggered(f"{res.collection} has no PATCH or PUT with a plain text field to change")

    def _walk(
        self, res: Resource, record: Fresh, name: str, goals: set[Any], *, change: bool, event: Event
    ) -> tuple[Operation, requests.Response] | None:
        """Call the declared transitions that take the record's ``name`` into ``goals``; the last call (if any)."""
        state = record.data.get(name)
        if state is None:
            now = self.ctx.read(Created(res, record.id, record.body, record.data))
            state = now.get(name) if isinstance(now, dict) else None
        if state is None:
            raise NotTriggered(f"{res.name} records show no {name}, so no transition can be followed")
        try:
            chain = route(transitions_of(self.spec, res), name, state, goals, change=change)
        except LookupError as exc:
            raise NotTriggered(str(exc)) from None
        last: tuple[Operation, requests.Response] | None = None
        for step in chain:
            response = self._call(step.operation, record.id, f"trigger {event.name}")
            data = res.record_of(step.operation, json_or_none(response))
            state = data.get(name, step.to) if isinstance(data, dict) and res.id_of(data) == record.id else step.to
            last = (step.operation, response)
        return last

    def _call(self, op: Operation, record_id: Any, why: str, body: Any = None) -> requests.Response:
        """Call ``op`` on a record; anything but 2xx means the event cannot be triggered (NotTriggered)."""
        if body is None and op.request.get("required"):
            schema = op.body_schema
            if schema is None:
                raise NotTriggered(f"{op.method} {op.path} needs a body that is not JSON")
            body = self.ctx.sample(schema)
        path = self.ctx.path(op, record_id)
        response = self.ctx.send(self.client, op, path, body)
        if not 200 <= response.status_code < 300:
            raise NotTriggered(f"{op.method} {path} ({why}) answered {response.status_code}")
        return response

    def _expect(
        self, event: Event, res: Resource, record_id: Any, op: Operation, response: requests.Response
    ) -> Expect:
        trigger = f"{op.method} {self.ctx.path(op, record_id)}"
        return Expect(event.name, res.name, record_id, trigger, curl(response.request, self.ctx.target))


def _article(word: str) -> str:
    """``an`` before a vowel, else ``a`` (``an invoices record``, ``a customers record``)."""
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def _said(response: requests.Response) -> str:
    """``: <the answer's message>`` (shortened) when the target's error body carries one, else ``""``."""
    body = json_or_none(response)
    message = body.get("message") if isinstance(body, dict) else None
    return f": {str(message)[:200]}" if message else ""
