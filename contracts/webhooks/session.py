"""One run of the webhooks suite: its receiver, subscriptions and triggers, and the checks over what arrived."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from contracts.http import Client
from contracts.meter import Throttled
from contracts.results import NO_ANSWER, RATE_LIMITED, CheckResult, Failure, Outcome, judged
from contracts.security.fixtures import Context
from contracts.security.spec_view import Json, json_or_none
from contracts.webhooks.judge import (
    DELIVERY,
    FORBIDDEN,
    HEADERS,
    ONCE,
    PAYLOAD,
    RETRIES,
    SIGNATURE,
    TIMESTAMP,
    UNIQUE_IDS,
    DeliveryJudge,
    findings,
    gaps,
    grown,
    id_headers,
    replay,
    same_id,
    shown,
)
from contracts.webhooks.receiver import Received, Receiver
from contracts.webhooks.spec import Event, Subscription, customer_actions_of, describes, transitions_of
from contracts.webhooks.triggers import Expect, Triggered, Triggers

SUITE = "webhooks"
SETUP = "webhooks.setup"  # the rule of a check that could not run (no receiver, no subscription)
RULES = (DELIVERY, ONCE, PAYLOAD, HEADERS, SIGNATURE, TIMESTAMP, UNIQUE_IDS, RETRIES, FORBIDDEN)
FORBIDDEN_URLS = ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/")
SETTLE_SECONDS = 1.0  # after the last expected delivery, how long duplicates get to show up
MAX_FAILED_ANSWERS = 6  # the retry check answers 500 at most this often before it answers 200 regardless
MISSING = (404, 405, 501)  # the target has no such endpoint


def skipped(name: str, reason: str, started: float) -> CheckResult:
    """A check that did not apply, with the reason."""
    return CheckResult(SUITE, f"webhooks/{name}", Outcome.SKIPPED, reason=reason, seconds=time.monotonic() - started)


class RetryResponder:
    """Answers 500 to the attempts of the first delivery of ``event`` until their gaps have grown, then 200.

    Other requests get 200. Called by the receiver under its lock, one request at a time.
    """

    def __init__(self, event: str, max_failures: int = MAX_FAILED_ANSWERS) -> None:
        self.event = event
        self.max_failures = max_failures
        self.key: str | None = None
        self.times: list[float] = []
        self.acknowledged = False

    def matches(self, request: Received) -> bool:
        """Whether ``request`` is an attempt of the delivery under test (the first of ``event`` seen)."""
        return request.event == self.event and self.key is not None and _attempt_key(request) == self.key

    def __call__(self, request: Received) -> int:
        """The status to answer ``request`` with."""
        if request.event != self.event:
            return 200
        if self.key is None:
            self.key = _attempt_key(request)
        if not self.matches(request):
            return 200
        self.times.append(request.mono)
        if self.acknowledged:
            return 200
        if grown(gaps(self.times)) or len(self.times) > self.max_failures:
            self.acknowledged = True
            return 200
        return 500


@dataclass
class RetryCheck:
    """The retry check's route, event, responder, subscription secret and what triggering it came to."""

    route: str
    event: Event | None
    responder: RetryResponder | None = None
    secret: str | None = None
    triggered: Triggered | None = None


class Session:
    """One run of the suite: the receiver, the subscriptions, the triggers, and the checks over what arrived."""

    def __init__(self, ctx: Context, events: list[Event], subscription: Subscription) -> None:
        self.ctx = ctx
        self.target = ctx.target
        self.events = events
        self.by_name = {event.name: event for event in events}
        self.sub = subscription
        self.receiver = Receiver(self.target.webhook_listen, self.target.webhook_public_url)
        self.judge = DeliveryJudge(ctx.spec, self.target.webhook_tolerance)
        self.subscribed: list[Any] = []  # ids of the subscriptions to delete afterwards
        self.triggers: list[Triggers] = []
        self.started = time.monotonic()

    @property
    def client(self) -> Client:
        """The full key's client."""
        return self.ctx.client("full")

    @property
    def subscribable(self) -> list[str]:
        """The events a subscription may name (the schema's enum, else every documented event)."""
        names = [event.name for event in self.events]
        return [name for name in names if name in self.sub.subscribable] if self.sub.subscribable else names

    # the run

    def checks(self) -> Iterator[CheckResult]:
        """Subscribe, check forbidden targets, trigger everything, wait, and judge; one CheckResult per check."""
        meter = self.target.meter
        meter.now("webhooks/subscribe")
        try:
            self.receiver.start()
        except (OSError, ValueError) as exc:
            failure = Failure(SETUP, f"the receiver cannot listen on {self.target.webhook_listen}: {exc}")
            yield CheckResult(SUITE, "webhooks/receiver", Outcome.ERROR, [failure], seconds=self._seconds())
            return
        main_route = f"/{self.ctx.marker}/events"
        main_url = self.receiver.add(main_route, lambda request: 200)
        try:
            main = self.subscribe(main_url, self.subscribable)
        except _Stop as stop:
            yield stop.result
            return
        main_id, main_secret = main

        started = time.monotonic()
        meter.now("webhooks/forbidden targets")
        yield self._guarded("forbidden targets", FORBIDDEN, self.check_forbidden, started)

        wait_from = time.monotonic()
        main_triggers = Triggers(self.ctx, self.ctx.spec, self.sub, main_id)
        self.triggers.append(main_triggers)
        retry = self._start_retry_check(main_triggers)
        fired: list[Triggered] = []
        for event in self.events:
            meter.now(f"webhooks/trigger {event.name}")
            fired.append(main_triggers.fire(event))
        expected = [expect for result in fired for expect in result.expects]
        if retry.triggered is not None and retry.event is not None and retry.event.emits:
            expected += retry.triggered.expects  # a record made for the retry check is delivered to both

        meter.now("webhooks/waiting for deliveries")
        retry_pending = retry.responder is not None and retry.triggered is not None and bool(retry.triggered.expects)

        def ready() -> bool:
            got = self.receiver.received(main_route)
            arrived = all(any(_about(request, expect) for request in got) for expect in expected)
            return arrived and (not retry_pending or (retry.responder is not None and retry.responder.acknowledged))

        if self.receiver.wait(ready, wait_from + self.target.webhook_wait):
            time.sleep(SETTLE_SECONDS)
        received = self.receiver.received(main_route)
        retried = self.receiver.received(retry.route)
        waited = time.monotonic() - wait_from
        unreachable = self._unreachable(received, retried, expected, waited, main_url)

        for result in fired:
            extra = [e for e in expected if e.event == result.event.name and e not in result.expects]
            yield self._counted(
                self.check_event(
                    result,
                    [*result.expects, *extra],
                    (received, main_secret, main_url),
                    (retried, retry.secret, self.receiver.base_url + retry.route),
                    unreachable,
                )
            )
        yield self._counted(self.check_deliveries(received, main_secret, unreachable, main_url))
        yield self._counted(self.check_retries(retry, retried, unreachable, waited))

    def _start_retry_check(self, main_triggers: Triggers) -> RetryCheck:
        """Subscribe a route that answers 500 at first, and trigger one delivery to it (before the others)."""
        check = RetryCheck(f"/{self.ctx.marker}/retries", self._retry_event())
        if check.event is None:
            return check
        self.target.meter.now("webhooks/retries")
        check.responder = RetryResponder(check.event.name)
        url = self.receiver.add(check.route, check.responder)
        try:
            retry_id, check.secret = self.subscribe(url, self._retry_events(check.event), purpose="retries")
        except _Stop as stop:
            check.triggered = Triggered(check.event, skip=stop.result.reason or _first(stop.result))
            return check
        triggers = main_triggers
        if not check.event.emits:  # sent by an operation of the subscription: on the retry subscription itself
            triggers = Triggers(self.ctx, self.ctx.spec, self.sub, retry_id)
            self.triggers.append(triggers)
        check.triggered = triggers.fire(check.event)
        return check

    # subscribing

    def subscribe(self, url: str, events: list[str], purpose: str = "events") -> tuple[Any, str | None]:
        """Subscribe ``url`` to ``events``; (id, secret). Raises _Stop with the check to report when it cannot."""
        body: dict[str, Any] = {self.sub.url_field: url, self.sub.events_field: events, **self.sub.extra}
        text = self.ctx.marker_field(self.sub.resource.create_schema)
        if text is not None and text not in body:
            body[text] = f"contracts {self.ctx.marker} {purpose}"
        call = f"{self.sub.create.method} {self.sub.create.path}"
        try:
            response = self._post(body)
        except Throttled as exc:
            raise _Stop(judged(SUITE, "webhooks/subscribe", [Failure(SETUP, str(exc), status=RATE_LIMITED)])) from None
        except requests.RequestException as exc:
            failure = Failure(SETUP, f"{call} got no answer: {exc}", status=NO_ANSWER)
            raise _Stop(judged(SUITE, "webhooks/subscribe", [failure])) from None
        data = self._record(response)
        if response.status_code in MISSING:
            reason = f"the target has no webhooks: {call} answered {response.status_code}"
            raise _Stop(skipped("subscribe", reason, self.started))
        if response.status_code == RATE_LIMITED:
            failure = self.client.failure(SETUP, f"{call} answered 429", response)
            raise _Stop(judged(SUITE, "webhooks/subscribe", [failure]))
        subscription_id = self.sub.resource.id_of(data)
        if not 200 <= response.status_code < 300 or not isinstance(data, dict) or subscription_id is None:
            message = (
                f"could not subscribe the receiver at {url}: {call} answered {response.status_code}. "
                "If the target refuses that URL or cannot reach it, give one it accepts and reaches "
                "(--webhook-listen, --webhook-public-url)"
            )
            failure = self.client.failure(SETUP, message, response)
            raise _Stop(CheckResult(SUITE, "webhooks/subscribe", Outcome.ERROR, [failure], seconds=self._seconds()))
        self.subscribed.append(subscription_id)
        secret = data.get("secret")
        return subscription_id, secret if isinstance(secret, str) and secret else None

    def _post(self, body: dict[str, Any]) -> requests.Response:
        """Send a subscription's fields to the subscribe operation, as the spec describes the request."""
        create, res = self.sub.create, self.sub.resource
        return self.ctx.send(self.client, create, create.path, res.wrap(create, body))

    def _record(self, response: requests.Response) -> Json:
        """The subscription the subscribe operation's answer carries (where the spec puts it)."""
        return self.sub.resource.record_of(self.sub.create, json_or_none(response))

    def _retry_event(self) -> Event | None:
        """The event the retry check delivers.

        One that an operation of the subscription sends (``webhook.test``), else the first emitted on create.
        """
        item = self.sub.resource.item
        for event in self.events:
            if event.emits or event.problem or not item:
                continue
            if any(
                op.method == "POST" and op.path != item and describes(op, self.ctx.spec, event.name)
                for op in self.sub.resource.item_ops
            ):
                return event
        return next((e for e in self.events if any(emit.kind == "created" for emit in e.emits)), None)

    def _retry_events(self, retry_event: Event) -> list[str]:
        """What the retry subscription subscribes to: its event, else (an event it cannot name) a quiet one."""
        names = self.subscribable
        if retry_event.name in names:
            return [retry_event.name]
        quiet = [name for name in names if self._never_triggered(self.by_name[name])]
        return [(quiet or names)[0]]

    def _never_triggered(self, event: Event) -> bool:
        """Whether no declared transition (nor, given an admin token, customer action) leads to the event's value."""
        for emit in event.emits:
            if emit.field is None:
                return False
            res = self.ctx.resources.get(f"/{emit.resource}") or self.ctx.resources.get(
                f"/{emit.resource.replace('_', '-')}"
            )
            if res is None:
                continue
            if any(t.field == emit.field and t.to == emit.value for t in transitions_of(self.ctx.spec, res)):
                return False
            by_customer = customer_actions_of(self.ctx.spec, res) if self.target.admin_token else []
            if any(a.field == emit.field and a.to == emit.value for a in by_customer):
                return False
        return bool(event.emits)

    # checks

    def check_forbidden(self) -> tuple[list[Failure], str]:
        """Subscribing a metadata or private address must be refused with 4xx."""
        failures: list[Failure] = []
        call = f"{self.sub.create.method} {self.sub.create.path}"
        events = self.subscribable[:1]
        refused: list[str] = []
        for url in FORBIDDEN_URLS:
            body = {self.sub.url_field: url, self.sub.events_field: events, **self.sub.extra}
            response = self._post(body)
            status = response.status_code
            if status == RATE_LIMITED:
                failures.append(self.client.failure(FORBIDDEN, f"{call} with url {url} answered 429", response))
            elif 200 <= status < 300:
                accepted = self.sub.resource.id_of(self._record(response))
                if accepted is not None:
                    self._unsubscribe(accepted)
                message = f"a subscription to {url} was accepted ({status}): it must be refused with 4xx (SSRF)"
                failures.append(self.client.failure(FORBIDDEN, message, response))
            elif not 400 <= status < 500:
                message = f"a subscription to {url} answered {status}: it must be refused with 4xx"
                failures.append(self.client.failure(FORBIDDEN, message, response))
            else:
                refused.append(f"{url} ({status})")
        return failures, f"refused {', '.join(refused)}" if refused else ""

    def check_event(
        self,
        result: Triggered,
        expects: list[Expect],
        main: tuple[list[Received], str | None, str],
        retry: tuple[list[Received], str | None, str],
        unreachable: Failure | None,
    ) -> CheckResult:
        """One event: its deliveries as documented and signed, and each time the suite triggered it, once."""
        event = result.event
        name = f"webhooks/{event.name}"
        started = time.monotonic()
        received, secret, url = main
        mine = [request for request in received if request.event == event.name]
        theirs = [request for request in retry[0] if request.event == event.name]
        if result.skip and not mine and not theirs:
            return CheckResult(SUITE, name, Outcome.SKIPPED, reason=f"not triggered: {result.skip}")
        if unreachable is not None and expects:
            return judged(SUITE, name, [*result.problems, unreachable])
        found = findings()
        for request in mine:
            self.judge.check(request, event, secret, url, found)
        for request in theirs:
            self.judge.check(request, event, retry[1], retry[2], found)
        for expect in expects:
            hits = [request for request in mine if _about(request, expect)]
            about = f"{event.name} about {expect.resource} {expect.record_id}"
            if not hits:
                message = (
                    f"{about} never arrived: triggered by {expect.trigger}, "
                    f"nothing within {self.target.webhook_wait:g} s (--webhook-wait)"
                )
                found.keep(Failure(DELIVERY, message, expect.reproduction))
            elif len(hits) > 1:
                ids = [_delivery_key(hit, event) for hit in hits]
                same = len(set(ids)) == 1
                how = "the same delivery was sent again after the receiver answered 200" if same else "separately"
                message = f"{about} arrived {len(hits)} times ({how}; delivery ids {', '.join(ids)})"
                found.keep(Failure(ONCE, message, replay(hits[-1], url), shown(hits[-1])))
        checked = len(mine) + len(theirs)
        triggers = "; ".join(dict.fromkeys(expect.trigger for expect in expects))
        reason = f"triggered by {triggers}; {checked} delivery attempt(s) checked" if triggers else ""
        if result.skip:
            reason = f"not triggered ({result.skip}); the {checked} delivery attempt(s) of it that arrived were checked"
        return judged(
            SUITE, name, [*result.problems, *found.failures], reason=reason, seconds=time.monotonic() - started
        )

    def check_deliveries(
        self, received: list[Received], secret: str | None, unreachable: Failure | None, url: str
    ) -> CheckResult:
        """Across all deliveries: unique ids, nothing twice, nothing unsubscribed, a secret to verify with."""
        name = "webhooks/deliveries"
        if unreachable is not None:
            return judged(SUITE, name, [unreachable])
        if not received:
            return CheckResult(SUITE, name, Outcome.SKIPPED, reason="no delivery arrived, so none could be compared")
        found = findings()
        if secret is None:
            found.keep(Failure(SIGNATURE, "the subscription's create response carries no secret to verify signatures"))
        allowed = set(self.subscribable) | {e.name for e in self.events if not e.emits}
        by_key: dict[str, list[Received]] = {}
        for request in received:
            by_key.setdefault(_delivery_key(request, self.by_name.get(request.event)), []).append(request)
            if not request.event:
                found.keep(Failure(PAYLOAD, "a delivery names no event", replay(request, url), shown(request)))
            elif request.event not in allowed:
                message = f"a delivery of {request.event!r} arrived, which the subscription did not ask for"
                found.keep(Failure(DELIVERY, message, replay(request, url), shown(request)))
        for key, requests_ in by_key.items():
            if len(requests_) > 1:
                message = (
                    f"delivery {key} ({requests_[0].event}) was sent {len(requests_)} times, "
                    "though the receiver acknowledged the first with 200"
                )
                found.keep(Failure(ONCE, message, replay(requests_[-1], url), shown(requests_[-1])))
        documented = list(dict.fromkeys(str(param.get("name")) for e in self.events for param in e.header("-id")))
        for header in documented or id_headers(None, received):
            events_by_id: dict[str, set[str]] = {}
            for request in received:
                value = request.header(header)
                if value is not None:
                    events_by_id.setdefault(value, set()).add(request.event_id or repr(request.body[:200]))
            for value, carried in events_by_id.items():
                if len(carried) > 1:
                    shown_ids = ", ".join(sorted(carried)[:4])
                    found.keep(Failure(UNIQUE_IDS, f"{header} {value} was used by {len(carried)} events ({shown_ids})"))
        by_event: dict[str, set[str]] = {}
        for key, requests_ in by_key.items():
            if requests_[0].event_id:
                by_event.setdefault(requests_[0].event_id, set()).add(key)
        for event_id, keys in by_event.items():
            if len(keys) > 1:
                found.keep(Failure(ONCE, f"event {event_id} was delivered {len(keys)} times as separate deliveries"))
        reason = f"{len(received)} deliveries, {len(by_key)} distinct delivery ids"
        return judged(SUITE, name, found.failures, reason=reason)

    def check_retries(
        self, retry: RetryCheck, retried: list[Received], unreachable: Failure | None, waited: float
    ) -> CheckResult:
        """A delivery answered 500 is retried with the same ids and growing gaps."""
        name = "webhooks/retries"
        event, responder, triggered = retry.event, retry.responder, retry.triggered
        if event is None or responder is None or triggered is None:
            return CheckResult(SUITE, name, Outcome.SKIPPED, reason="no event the suite can trigger on its own")
        if triggered.skip:
            return CheckResult(SUITE, name, Outcome.SKIPPED, reason=f"could not trigger {event.name}: {triggered.skip}")
        if triggered.problems:
            return judged(SUITE, name, triggered.problems)
        attempts = [request for request in retried if responder.matches(request)]
        if not attempts:
            if unreachable is not None:
                return judged(SUITE, name, [unreachable])
            message = (
                f"no delivery of {event.name} reached the retry check's subscription within "
                f"{self.target.webhook_wait:g} s (--webhook-wait)"
            )
            return judged(SUITE, name, [Failure(DELIVERY, message, *_repro(triggered))])
        url = self.receiver.base_url + retry.route
        first = attempts[0]
        key = _delivery_key(first, event)
        found = findings()
        for header in id_headers(event, attempts):
            values = list(dict.fromkeys(str(a.header(header)) for a in attempts))
            if len(values) > 1:
                message = f"retries of delivery {key} must carry the same {header}, got {', '.join(values)}"
                found.keep(Failure(RETRIES, message, replay(attempts[-1], url), shown(attempts[-1])))
        between = gaps([a.mono for a in attempts])
        timeline = ", ".join(f"+{a.mono - first.mono:.2f} s ({a.status})" for a in attempts)
        advice = (
            f"the target may retry more slowly than --webhook-wait ({self.target.webhook_wait:g} s): wait longer, "
            "or run a sandbox with --webhook-retry-scale 0.01"
        )
        if len(attempts) == 1:
            message = (
                f"the receiver answered 500 to delivery {key} of {event.name}, and no retry arrived within "
                f"{waited:.0f} s; {advice}"
            )
            found.keep(Failure(RETRIES, message, replay(first, url), shown(first)))
        elif not grown(between):
            listed = ", ".join(f"{gap:.2f} s" for gap in between)
            if responder.acknowledged:
                message = f"retries of delivery {key} did not back off: the gaps between attempts were {listed}"
            else:
                message = (
                    f"delivery {key} was attempted {len(attempts)} times within {waited:.0f} s (gaps {listed}); "
                    f"growing gaps need at least three attempts: {advice}"
                )
            found.keep(Failure(RETRIES, message, replay(attempts[-1], url), shown(attempts[-1])))
        ok_at = next((i for i, a in enumerate(attempts) if 200 <= a.status < 300), None)
        if ok_at is not None and ok_at < len(attempts) - 1:
            message = f"delivery {key} was sent again after the receiver answered 200 ({timeline})"
            found.keep(Failure(ONCE, message, replay(attempts[-1], url), shown(attempts[-1])))
        # The target's delivery id stays out of the reason: how many deliveries came before depends on timing.
        return judged(SUITE, name, found.failures, reason=f"attempts of the delivery: {timeline}")

    # plumbing

    def _guarded(self, label: str, rule: str, check: Any, started: float) -> CheckResult:
        try:
            failures, reason = check()
        except Throttled as exc:
            failures, reason = [Failure(rule, str(exc), status=RATE_LIMITED)], ""
        except requests.RequestException as exc:
            failures, reason = [Failure(rule, f"a request got no answer: {exc}", status=NO_ANSWER)], ""
        return self._counted(
            judged(SUITE, f"webhooks/{label}", failures, reason=reason, seconds=time.monotonic() - started)
        )

    def _counted(self, result: CheckResult) -> CheckResult:
        """Tell the meter how many failures a check found (for the progress line)."""
        self.target.meter.found(len(result.failures) if result.outcome is Outcome.FAILED else 0)
        return result

    def _unreachable(
        self, received: list[Received], retried: list[Received], expected: list[Expect], waited: float, url: str
    ) -> Failure | None:
        """When nothing at all arrived though events were triggered: the target cannot reach us (could not test)."""
        if received or retried or not expected:
            return None
        message = (
            f"no delivery reached the receiver at {url} within {waited:.0f} s, though {len(expected)} event(s) "
            "were triggered: can the target reach it? (--webhook-listen, --webhook-public-url)"
        )
        return Failure(DELIVERY, message, status=NO_ANSWER)

    def _seconds(self) -> float:
        return time.monotonic() - self.started

    def _unsubscribe(self, subscription_id: Any) -> None:
        delete = self.sub.resource.item_op("DELETE")
        if delete is not None:
            with contextlib.suppress(requests.RequestException):
                self.ctx.send(self.client, delete, self.ctx.path(delete, subscription_id))

    def close(self) -> None:
        """Delete the subscriptions first (no more deliveries), then the records made; stop the receiver."""
        for subscription_id in reversed(self.subscribed):
            self._unsubscribe(subscription_id)
        for triggers in reversed(self.triggers):
            for res, record_id in reversed(triggers.made):
                op = res.item_op("DELETE")
                if op is not None and (res.collection, str(record_id)) not in triggers.deleted:
                    with contextlib.suppress(requests.RequestException):
                        self.ctx.send(self.client, op, self.ctx.path(op, record_id))
        with contextlib.suppress(requests.RequestException):
            self.ctx.cleanup()
        self.receiver.close()


class _Stop(Exception):
    """Stop the run here and report ``result``."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.reason)
        self.result = result


def _about(request: Received, expect: Expect) -> bool:
    return request.event == expect.event and same_id(request.record_id, expect.record_id)


def _delivery_key(request: Received, event: Event | None) -> str:
    """What identifies a delivery: its first documented id header (else any ``*-id`` header), else the event id."""
    values = [request.header(name) for name in id_headers(event, [request])]
    return next((value for value in values if value), None) or request.event_id or "?"


def _attempt_key(request: Received) -> str:
    """What ties the attempts of one delivery together for the retry check: the event's id, else its delivery id."""
    return request.event_id or _delivery_key(request, None)


def _first(result: CheckResult) -> str:
    return result.failures[0].message if result.failures else result.outcome.value


def _repro(triggered: Triggered) -> tuple[str]:
    return (triggered.expects[0].reproduction if triggered.expects else "",)
