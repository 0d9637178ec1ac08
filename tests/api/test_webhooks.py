"""Webhooks arrive for real: events from operations, actions and payments, signed, retried, never blocking the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import API, ROOT, TODAY, auth, free_port
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks import Webhook

from api.support import create, data_of, expect_error
from contracts import spec_document
from mockserver.app import create_app
from mockserver.settings import Settings


@dataclass
class Received:
    """One delivery as the receiver got it."""

    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A real HTTP receiver: records every POST and answers the next scripted status (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hold: bool = False
    url: str = ""

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} deliveries arrived, expected {count}"
        return self.received

    def wait_until(self, matches: Callable[[Received], bool], timeout: float = 15.0) -> list[Received]:
        """The deliveries that match, once one has arrived (others, such as older records' events, may come first)."""
        deadline = time.monotonic() + timeout
        while not any(matches(r) for r in self.received) and time.monotonic() < deadline:
            time.sleep(0.02)
        found = [r for r in self.received if matches(r)]
        assert found, f"none of the {len(self.received)} deliveries matched"
        return found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state.hold:
                state.release.wait(20)
            state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def webhook_app() -> Flask:
    """A sandbox whose retry schedule runs in seconds."""
    return create_app(Settings(seed=1, today=dt.date.fromisoformat(TODAY), strict=True, webhook_retry_scale=0.01))


@pytest.fixture
def hooks(webhook_app: Flask) -> FlaskClient:
    webhook_app.extensions["sandbox"]["engine"].reset()
    return webhook_app.test_client()


def subscribe(client: FlaskClient, url: str, *events: str) -> dict[str, Any]:
    return create(client, "/webhooks", {"url": url, "events": list(events)})


def deliveries(client: FlaskClient, webhook_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = data_of(client.get(f"{API}/webhooks/{webhook_id}/deliveries", headers=auth()))
    return rows


def deliveries_once(
    client: FlaskClient, webhook_id: int, ready: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0
) -> list[dict[str, Any]]:
    """The webhook's deliveries once they are ``ready``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = deliveries(client, webhook_id)
        if ready(rows):
            return rows
        time.sleep(0.02)
    raise AssertionError(f"deliveries never got there: {deliveries(client, webhook_id)}")


def settled(client: FlaskClient, webhook_id: int, count: int) -> list[dict[str, Any]]:
    """The webhook's deliveries once ``count`` of them are no longer pending."""
    return deliveries_once(client, webhook_id, lambda rows: len([r for r in rows if r["status"] != "pending"]) >= count)


def test_a_created_customer_is_delivered_once_signed_both_ways(hooks: FlaskClient, receiver: Receiver) -> None:
    webhook = subscribe(hooks, receiver.url, "customer.created")
    secret = webhook["secret"]
    customer = create(hooks, "/customers", {"name": "Hooked Ltd", "email": "hooked@example.com"})
    [delivery] = receiver.wait_for(1)
    payload = delivery.payload
    assert set(payload) == {"id", "event", "timestamp", "data"}
    assert payload["event"] == "customer.created"
    assert payload["data"]["id"] == customer["id"]
    expected = hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["x-webhook-signature"] == expected
    assert delivery.headers["x-webhook-event"] == "customer.created"
    assert Webhook(secret).verify(delivery.body, delivery.headers) == payload  # the official verifier
    [row] = settled(hooks, webhook["id"], 1)
    assert row["status"] == "delivered"
    assert row["event_id"] == payload["id"]
    assert str(row["id"]) == delivery.headers["x-webhook-delivery-id"]
    assert [attempt["status"] for attempt in row["attempt_log"]] == [200]
    assert secret not in json.dumps(deliveries(hooks, webhook["id"]))
    assert "secret" not in data_of(hooks.get(f"{API}/webhooks/{webhook['id']}", headers=auth()))


def test_a_failed_attempt_is_retried_and_every_attempt_is_logged(hooks: FlaskClient, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    webhook = subscribe(hooks, receiver.url, "customer.created")
    create(hooks, "/customers", {"name": "Retry Me"})
    arrived = receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in arrived}) == 1  # the same message on every retry
    [row] = settled(hooks, webhook["id"], 1)
    assert row["status"] == "delivered"
    assert row["attempts"] == 3
    assert [a["status"] for a in row["attempt_log"]] == [500, 503, 200]
    assert row["attempt_log"][0]["error"] == "receiver answered 500"


def test_payments_and_actions_emit_their_own_events(hooks: FlaskClient, receiver: Receiver) -> None:
    webhook = subscribe(hooks, receiver.url, "invoice.created", "invoice.sent", "invoice.paid", "invoice.updated")
    invoice = create(
        hooks,
        "/invoices",
        {
            "customer_id": 1,
            "invoice_date": TODAY,
            "due_date": "2026-07-15",
            "items": [{"name": "Work", "quantity": 1, "price": 10000, "tax_rate": 0}],
        },
    )
    data_of(hooks.post(f"{API}/invoices/{invoice['id']}/send", headers=auth()))
    create(
        hooks,
        "/payments",
        {"customer_id": 1, "invoice_id": invoice["id"], "amount": invoice["total"], "payment_date": TODAY},
    )
    receiver.wait_for(3)
    time.sleep(0.3)  # nothing else may follow
    events = sorted(r.payload["event"] for r in receiver.received)  # deliveries may arrive in any order
    assert events == ["invoice.created", "invoice.paid", "invoice.sent"]  # the specific events, not also "updated"
    paid = next(r.payload for r in receiver.received if r.payload["event"] == "invoice.paid")
    assert paid["data"]["paid_status"] == "PAID"
    assert len({r.payload["id"] for r in receiver.received}) == 3
    assert webhook["id"]


def test_the_test_endpoint_sends_a_real_delivery(hooks: FlaskClient, receiver: Receiver) -> None:
    webhook = subscribe(hooks, receiver.url, "customer.created")
    queued = data_of(hooks.post(f"{API}/webhooks/{webhook['id']}/test", headers=auth()), 202)
    [delivery] = receiver.wait_for(1)
    assert delivery.payload["event"] == "webhook.test"
    assert delivery.payload["data"]["id"] == webhook["id"]
    assert "secret" not in delivery.payload["data"]
    assert queued["status"] == "pending"


def test_a_hanging_receiver_never_holds_up_the_api(hooks: FlaskClient, receiver: Receiver) -> None:
    receiver.hold = True
    subscribe(hooks, receiver.url, "customer.created")
    create(hooks, "/customers", {"name": "First"})
    create(hooks, "/customers", {"name": "Second"})  # answered while the receiver still holds the first
    assert data_of(hooks.get(f"{API}/customers?limit=1", headers=auth()))
    assert receiver.received == []  # nothing got through yet: the API did not wait for it
    receiver.release.set()
    assert len(receiver.wait_for(2)) == 2


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/hooks", "http://169.254.169.254/latest/meta-data", "http://2130706433/x", "ftp://127.0.0.1/"],
)
def test_a_forbidden_target_is_refused_when_subscribing(hooks: FlaskClient, url: str) -> None:
    body = expect_error(
        hooks.post(f"{API}/webhooks", json={"url": url, "events": ["customer.created"]}, headers=auth()),
        422,
        "validation_failed",
    )
    assert "url" in body["errors"]


def readme_receiver() -> str:
    """The Python receiver of README.md's "Receiving webhooks" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Receiving webhooks", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_receiver_verifies_and_prints_each_delivery(hooks: FlaskClient) -> None:
    port = free_port()
    webhook = subscribe(hooks, f"http://127.0.0.1:{port}/webhooks", "customer.created")
    source = readme_receiver().replace('"whsec_..."', repr(webhook["secret"])).replace("9000", str(port))
    process = subprocess.Popen([sys.executable, "-c", source], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not listening(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        customer = create(hooks, "/customers", {"name": "Read Me"})
        assert process.stdout is not None
        event, event_id, record_id = process.stdout.readline().split()
        assert (event, record_id) == ("customer.created", str(customer["id"]))
        assert event_id.startswith("evt_")
        [row] = settled(hooks, webhook["id"], 1)
        assert row["status"] == "delivered"  # the receiver's 204 acknowledged it
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def documented_secret() -> str:
    spec = spec_document.read(ROOT / "openapi.yaml")
    return str(spec["components"]["schemas"]["WebhookFields"]["properties"]["secret"]["examples"][0])


def test_the_seeded_webhook_signs_with_the_documented_secret(hooks: FlaskClient, receiver: Receiver) -> None:
    moved = data_of(hooks.patch(f"{API}/webhooks/1", json={"url": receiver.url}, headers=auth()))
    assert "invoice.created" in moved["events"]
    create(hooks, "/customers", {"name": "Quiet"})  # not an event webhook 1 takes
    hooks.post(f"{API}/webhooks/1/test", headers=auth())
    [delivery] = receiver.wait_for(1)
    assert Webhook(documented_secret()).verify(delivery.body, delivery.headers)["event"] == "webhook.test"


def test_a_rotated_secret_signs_every_later_delivery(hooks: FlaskClient, receiver: Receiver) -> None:
    webhook = subscribe(hooks, receiver.url, "customer.created")
    rotated = data_of(hooks.post(f"{API}/webhooks/{webhook['id']}/rotate-secret", headers=auth()))
    assert rotated["secret"] != webhook["secret"]
    assert rotated["secret"].startswith("whsec_")
    create(hooks, "/customers", {"name": "After Rotation"})
    [delivery] = receiver.wait_for(1)
    signed = hmac.new(rotated["secret"].encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["x-webhook-signature"] == signed
    assert "secret" not in data_of(hooks.get(f"{API}/webhooks/{webhook['id']}", headers=auth()))


def test_a_full_outbox_records_new_deliveries_as_failed(webhook_app: Flask, hooks: FlaskClient) -> None:
    emitter = webhook_app.extensions["sandbox"]["engine"].events
    emitter.max_pending = 2
    try:
        webhook = subscribe(hooks, "http://127.0.0.1:9/nobody-listens", "customer.created")
        for n in range(4):
            create(hooks, "/customers", {"name": f"Flood {n}"})
        rows = {row["id"]: row for row in deliveries(hooks, webhook["id"])}
        assert len(rows) == 4  # every event is on record ...
        refused = [row for row in rows.values() if row["attempt_log"] and "outbox is full" in str(row["attempt_log"])]
        assert len(refused) == 2  # ... and those past the bound say why they were not queued
        assert all(row["status"] == "failed" for row in refused)
    finally:
        emitter.max_pending = 10_000


def test_an_invoice_the_clock_makes_overdue_emits_invoice_overdue(
    webhook_app: Flask, hooks: FlaskClient, receiver: Receiver
) -> None:
    clock = webhook_app.extensions["sandbox"]["engine"].clock
    subscribe(hooks, receiver.url, "invoice.overdue")
    invoice = create(
        hooks,
        "/invoices",
        {
            "customer_id": 1,
            "invoice_date": TODAY,
            "due_date": "2026-06-20",
            "items": [{"name": "Late", "quantity": 1, "price": 500}],
        },
    )
    data_of(hooks.post(f"{API}/invoices/{invoice['id']}/send", headers=auth()))
    saved = clock.setting
    clock.set_today(dt.date(2026, 7, 1))
    try:
        hooks.get(f"{API}/me", headers=auth())  # any request of the company: the new day's rules run
        # every SENT invoice of the company past due turns OVERDUE that day: wait for this one's event
        overdue = [r.payload for r in receiver.wait_until(lambda r: r.payload["data"]["id"] == invoice["id"])]
        assert overdue[0]["event"] == "invoice.overdue"
        assert overdue[0]["data"]["status"] == "OVERDUE"
    finally:
        clock.setting = saved


def test_a_webhook_whose_deliveries_keep_failing_is_switched_off(webhook_app: Flask, hooks: FlaskClient) -> None:
    dispatcher = webhook_app.extensions["sandbox"]["webhooks"]
    usual = dispatcher.retry
    dispatcher.retry = dataclasses.replace(usual, attempts=1, disable_after=2)
    try:
        webhook = subscribe(hooks, "http://127.0.0.1:9/nobody-listens", "customer.created")
        for n in range(2):
            create(hooks, "/customers", {"name": f"Unheard {n}"})
        settled(hooks, webhook["id"], 2)
        shown = data_of(hooks.get(f"{API}/webhooks/{webhook['id']}", headers=auth()))
        assert shown["active"] is False
        create(hooks, "/customers", {"name": "Not queued"})
        assert len(deliveries(hooks, webhook["id"])) == 2  # a switched-off webhook gets no more deliveries
    finally:
        dispatcher.retry = usual


def test_a_dead_receivers_backlog_does_not_hold_up_a_delivery_that_fell_due_since() -> None:
    """A fuzzer subscribes a closed port: its many due deliveries are worked off oldest first, yet a delivery
    that fell due after them (another webhook's) is handed out first, not after the whole backlog."""
    app = create_app(Settings(seed=1, today=dt.date.fromisoformat(TODAY), webhook_retry_scale=0.01, quiet=True))
    dispatcher = app.extensions["sandbox"]["webhooks"]
    dispatcher.start = lambda: None  # nothing is sent: this looks at what one pass would hand out
    client = app.test_client()
    subscribe(client, "http://127.0.0.1:9/nobody-listens", "customer.created")
    for n in range(40):  # more than one pass takes from the backlog
        create(client, "/customers", {"name": f"Unheard {n}"})
    time.sleep(0.01)  # the next delivery falls due strictly later
    healthy = subscribe(client, "http://127.0.0.1:9/also-nobody", "customer.updated")
    assert client.patch(f"{API}/customers/1", json={"name": "Renamed"}, headers=auth()).status_code == 200
    fresh = [(1, row["id"]) for row in deliveries(client, healthy["id"])]
    handed_out = dispatcher.due()
    assert len(fresh) == 1
    assert handed_out[0] == fresh[0]
    assert handed_out[1][1] == 1  # then the oldest of the backlog, and so on turn about
    assert len(handed_out) > 32


def _dead_receiver_backlog(scale: float, count: int) -> tuple[Flask, FlaskClient, list[int], int]:
    """A sandbox whose dispatcher looks only when woken (no poll), with ``count`` deliveries to a closed port queued
    while it slept; the dispatcher's passes are counted in the returned list."""
    app = create_app(Settings(seed=1, today=dt.date.fromisoformat(TODAY), webhook_retry_scale=scale, quiet=True))
    dispatcher = app.extensions["sandbox"]["webhooks"]
    dispatcher._poll = 3600.0  # only wakes and scheduled retries make it look
    passes: list[int] = []
    due = dispatcher.due
    dispatcher.due = lambda **kwargs: passes.append(1) or due(**kwargs)
    client = app.test_client()
    engine = app.extensions["sandbox"]["engine"]
    engine.on_events = None  # queued, not looked at yet
    webhook = subscribe(client, "http://127.0.0.1:9/nobody-listens", "customer.created")
    for n in range(count):
        create(client, "/customers", {"name": f"Unheard {n}"})
    engine.on_events = dispatcher.wake
    dispatcher.wake()
    return app, client, passes, webhook["id"]


def attempted(client: FlaskClient, webhook_id: int, at_least: int) -> list[dict[str, Any]]:
    """The webhook's deliveries once each has had ``at_least`` attempts."""
    return deliveries_once(client, webhook_id, lambda rows: bool(rows) and all(r["attempts"] >= at_least for r in rows))


def test_a_dead_receivers_failed_attempts_do_not_make_the_dispatcher_look_again() -> None:
    """Each failed attempt schedules a retry minutes away: looking for due deliveries then would find none."""
    app, client, passes, webhook_id = _dead_receiver_backlog(scale=60.0, count=6)  # retries 5 minutes away
    try:
        attempted(client, webhook_id, 1)
        time.sleep(0.3)  # a look an attempt asked for would come now
        assert len(passes) == 1  # the one pass that handed out all six
    finally:
        app.extensions["sandbox"]["webhooks"].stop()


def test_a_retry_due_before_the_next_poll_goes_out_when_due() -> None:
    app, client, _, webhook_id = _dead_receiver_backlog(scale=0.01, count=1)
    try:
        (row,) = attempted(client, webhook_id, 3)  # retries 0.05-0.2 s apart, the poll an hour away
        assert row["status"] == "pending"
    finally:
        app.extensions["sandbox"]["webhooks"].stop()


def test_a_dispatcher_that_finds_nothing_due_looks_less_and_less_often_until_woken() -> None:
    """An idle sandbox must not query its database five times a second for ever once one delivery was queued."""
    app = create_app(Settings(seed=1, today=dt.date.fromisoformat(TODAY), quiet=True))
    dispatcher = app.extensions["sandbox"]["webhooks"]
    passes: list[float] = []
    due = dispatcher.due
    dispatcher.due = lambda **kwargs: passes.append(time.monotonic()) or due(**kwargs)
    try:
        dispatcher.wake()  # nothing is queued: every pass finds nothing due
        time.sleep(3.0)
        assert 1 <= len(passes) <= 6, passes  # at a steady 0.2 s it looked 15 times
        looked = len(passes)
        dispatcher.wake()  # a commit that queued a delivery: it looks at once, however long it meant to sleep
        deadline = time.monotonic() + 10
        while len(passes) == looked and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(passes) == looked + 1
    finally:
        dispatcher.stop()


def test_a_webhook_one_worker_changes_is_heard_by_the_next_create_on_another(tmp_path: Path) -> None:
    """Who listens is kept between a worker's creates, never past another worker's change to the webhooks.

    Two apps on one file stand for two workers; each one's dispatcher is held (nothing is sent).
    """
    db = str(tmp_path / "state.db")
    apps = [
        create_app(Settings(seed=1, today=dt.date.fromisoformat(TODAY), db=db, quiet=True, webhook_retry_scale=0.01))
        for _ in range(2)
    ]
    for app in apps:
        app.extensions["sandbox"]["webhooks"].start = lambda: None
    first, second = (app.test_client() for app in apps)
    try:
        create(second, "/customers", {"name": "Before"})  # the second worker reads who listens: nobody
        hook = subscribe(first, "http://127.0.0.1:9/nobody-listens", "customer.created")
        heard = create(second, "/customers", {"name": "Heard"})
        assert [row["payload"]["data"]["id"] for row in deliveries(first, hook["id"])] == [heard["id"]]
        switched = first.patch(f"{API}/webhooks/{hook['id']}", json={"active": False}, headers=auth())
        assert switched.status_code == 200, switched.get_json()
        create(second, "/customers", {"name": "Unheard"})
        assert len(deliveries(second, hook["id"])) == 1
    finally:
        for app in apps:
            app.extensions["sandbox"]["engine"].store.close()
