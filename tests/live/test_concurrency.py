"""Invariants under concurrent HTTP traffic, with two worker processes sharing one database.

Runs on a SQLite file and, when one is configured (tests/postgres.py), on PostgreSQL: every
rule that spans requests (ids, numbers, payments, idempotency, rate limits, OAuth tokens) must
hold across processes, and the state must survive a restart.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from itertools import chain, zip_longest
from typing import Any

import pytest
import requests
from conftest import ACME_READONLY, API, TODAY, LiveServer, auth

pytestmark = pytest.mark.live
THREADS = 16


@pytest.fixture(scope="module", params=["sqlite-file", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite-file":
        return str(tmp_path_factory.mktemp("db") / "state.db")
    from postgres import fresh_database

    return fresh_database(request)


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[LiveServer]:
    started = LiveServer("--db", database, "--workers", "2", "--today", TODAY, "--rate-limit", "1000000")
    yield started
    started.stop()
    if "://" not in database:  # two processes wrote the SQLite file: SQLite finds it whole
        with closing(sqlite3.connect(database)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def parallel(count: int, work: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(work, range(count)))


def call(server: LiveServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {**auth(), **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.base}{API}{path}", headers=headers, timeout=60, **kwargs)


def test_concurrent_creates_get_unique_ids_and_numbers(server: LiveServer) -> None:
    customer = call(server, "POST", "/customers", json={"name": "Concurrent Co"}).json()["data"]["id"]
    body = {
        "customer_id": customer,
        "invoice_date": TODAY,
        "due_date": TODAY,
        "items": [{"name": "Work", "quantity": 1, "price": 1000}],
    }
    responses = parallel(40, lambda _: call(server, "POST", "/invoices", json=body))
    assert [r.status_code for r in responses] == [201] * 40
    created = [r.json()["data"] for r in responses]
    assert len({i["id"] for i in created}) == 40
    assert len({i["invoice_number"] for i in created}) == 40
    listed = call(server, "GET", "/invoices", params={"customer_id": customer, "limit": 100}).json()
    assert listed["meta"]["total"] == 40


def test_concurrent_payments_never_overpay_an_invoice(server: LiveServer) -> None:
    customer = call(server, "POST", "/customers", json={"name": "Payer"}).json()["data"]["id"]
    invoice = call(
        server,
        "POST",
        "/invoices",
        json={
            "customer_id": customer,
            "invoice_date": TODAY,
            "due_date": TODAY,
            "items": [{"name": "Work", "quantity": 1, "price": 10_000}],
        },
    ).json()["data"]
    call(server, "POST", f"/invoices/{invoice['id']}/send")
    payment = {"customer_id": customer, "invoice_id": invoice["id"], "amount": 1_000, "payment_date": TODAY}
    statuses = [r.status_code for r in parallel(32, lambda _: call(server, "POST", "/payments", json=payment))]
    assert statuses.count(201) == 10
    assert set(statuses) == {201, 422}
    settled = call(server, "GET", f"/invoices/{invoice['id']}").json()["data"]
    assert (settled["due_amount"], settled["paid_status"], settled["status"]) == (0, "PAID", "COMPLETED")
    paid = call(server, "GET", "/payments", params={"invoice_id": invoice["id"], "limit": 100}).json()
    assert sum(p["amount"] for p in paid["data"]) == settled["total"]


def test_one_idempotency_key_creates_one_record_across_workers(server: LiveServer) -> None:
    key = str(uuid.uuid4())
    name = f"Idempotent {key[:8]}"
    responses = parallel(
        24, lambda _: call(server, "POST", "/customers", json={"name": name}, headers={"Idempotency-Key": key})
    )
    created = {r.json()["data"]["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert {r.status_code for r in responses} <= {201, 409}
    found = call(server, "GET", "/customers", params={"search": name}).json()
    assert found["meta"]["total"] == 1


def test_update_racing_delete_leaves_a_record_whole_or_gone(server: LiveServer) -> None:
    ids = [call(server, "POST", "/customers", json={"name": f"Racer {n}"}).json()["data"]["id"] for n in range(12)]

    def race(n: int) -> int:
        record = ids[n // 2]
        if n % 2:
            return call(server, "DELETE", f"/customers/{record}").status_code
        return call(server, "PATCH", f"/customers/{record}", json={"name": f"Renamed {record}"}).status_code

    parallel(24, race)
    for record in ids:
        response = call(server, "GET", f"/customers/{record}")
        assert response.status_code in (200, 404)
        if response.status_code == 200:
            assert response.json()["data"]["name"] in (f"Renamed {record}", f"Racer {ids.index(record)}")


@dataclass
class Traffic:
    """Every response one test got, kept across threads, so no 5xx can slip by unasserted."""

    server: LiveServer
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = call(self.server, method, path, **kwargs)
        with self.lock:
            self.seen.append((method, path, response.status_code))
        return response

    def data(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        """The ``data`` of a request that must answer ``status``."""
        response = self.send(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json()["data"]

    def every(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every record of a list, page by page."""
        records: list[dict[str, Any]] = []
        page = 1
        while True:
            listed = self.send("GET", path, params={**params, "limit": 100, "page": page})
            assert listed.status_code == 200, listed.text
            body = listed.json()
            records += body["data"]
            if page >= body["meta"]["last_page"]:
                return records
            page += 1


def invoice_body(customer: int, price: int, notes: str) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "invoice_date": TODAY,
        "due_date": TODAY,
        "notes": notes,
        "items": [{"name": "Work", "quantity": 1, "price": price}],
    }


def interleave(*kinds: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """One task of each kind in turn, so every kind runs alongside every other."""
    return [task for task in chain.from_iterable(zip_longest(*kinds)) if task is not None]


def test_mixed_writes_at_once_keep_every_invariant(server: LiveServer) -> None:
    """Payments, idempotent and plain creates, numbered invoices and updates racing deletes, all in one pool.

    Which request wins is up to the threads; what must hold afterwards is not: no overpayment and due
    amounts that add up, unique numbers, one record per idempotency key, records whole or gone, no 5xx.
    """
    net = Traffic(server)
    tag = uuid.uuid4().hex[:10]
    customer = net.data("POST", "/customers", 201, json={"name": f"Mixed {tag}"})["id"]
    # Two invoices of 10 000 taking payments: 1 000 at a time (10 fit), 3 000 at a time (3 fit, 1 000 stays due).
    targets = {}
    for amount in (1_000, 3_000):
        invoice = net.data("POST", "/invoices", 201, json=invoice_body(customer, 10_000, f"target-{tag}"))["id"]
        net.data("POST", f"/invoices/{invoice}/send", 200)
        targets[amount] = invoice
    racer_customers = [
        net.data("POST", "/customers", 201, json={"name": f"Racer {tag} {n}", "email": f"racer{n}@{tag}.test"})
        for n in range(6)
    ]
    racer_invoices = [
        net.data("POST", "/invoices", 201, json=invoice_body(customer, 700 + n, f"racer-{tag}-{n}")) for n in range(4)
    ]
    customer_key, invoice_key = str(uuid.uuid4()), str(uuid.uuid4())
    idempotent_customer = {"name": f"Idempotent {tag}"}
    idempotent_invoice = invoice_body(customer, 4_200, f"idem-{tag}")

    def pay(amount: int) -> requests.Response:
        payment = {"customer_id": customer, "invoice_id": targets[amount], "amount": amount, "payment_date": TODAY}
        return net.send("POST", "/payments", json=payment)

    work: dict[str, Callable[[Any], requests.Response]] = {
        "pay": pay,
        "customer-once": lambda _: net.send(
            "POST", "/customers", json=idempotent_customer, headers={"Idempotency-Key": customer_key}
        ),
        "invoice-once": lambda _: net.send(
            "POST", "/invoices", json=idempotent_invoice, headers={"Idempotency-Key": invoice_key}
        ),
        "customer": lambda n: net.send("POST", "/customers", json={"name": f"Plain {tag} {n}"}),
        "invoice": lambda n: net.send("POST", "/invoices", json=invoice_body(customer, 1_500, f"plain-{tag}-{n}")),
        "rename-customer": lambda c: net.send("PATCH", f"/customers/{c['id']}", json={"name": f"Renamed {c['id']}"}),
        "rephone-customer": lambda c: net.send("PATCH", f"/customers/{c['id']}", json={"phone": f"+1 555 {c['id']}"}),
        "delete-customer": lambda c: net.send("DELETE", f"/customers/{c['id']}"),
        "renote-invoice": lambda i: net.send("PATCH", f"/invoices/{i['id']}", json={"notes": f"renoted {i['id']}"}),
        "delete-invoice": lambda i: net.send("DELETE", f"/invoices/{i['id']}"),
    }
    tasks = interleave(
        [("pay", 1_000)] * 16,
        [("pay", 3_000)] * 6,
        [("customer-once", None)] * 12,
        [("invoice-once", None)] * 8,
        [("customer", n) for n in range(8)],
        [("invoice", n) for n in range(12)],
        [(kind, c) for c in racer_customers for kind in ("rename-customer", "delete-customer", "rephone-customer")],
        [(kind, i) for i in racer_invoices for kind in ("renote-invoice", "delete-invoice")],
    )
    assert len(tasks) >= 4 * THREADS
    replies = parallel(len(tasks), lambda n: (tasks[n][0], tasks[n][1], work[tasks[n][0]](tasks[n][1])))

    def answers(kind: str, arg: Any = None) -> list[requests.Response]:
        return [r for k, a, r in replies if k == kind and (arg is None or a == arg)]

    # Payments: exactly as many fit as the total allows, whatever the order; the rest are 422.
    for amount, fitting in ((1_000, 10), (3_000, 3)):
        statuses = [r.status_code for r in answers("pay", amount)]
        assert set(statuses) <= {201, 422}, statuses
        assert statuses.count(201) == fitting, statuses
        accepted = {r.json()["data"]["id"] for r in answers("pay", amount) if r.status_code == 201}
        listed = net.every("/payments", invoice_id=targets[amount])
        assert {p["id"] for p in listed} == accepted
        assert sum(p["amount"] for p in listed) == fitting * amount

    # One record per idempotency key: every reply names it, and a list shows exactly one.
    once: dict[str, int] = {}
    for kind, search, path in (
        ("customer-once", idempotent_customer["name"], "/customers"),
        ("invoice-once", f"idem-{tag}", "/invoices"),
    ):
        replayed = {r.status_code for r in answers(kind)}
        assert replayed <= {201, 409}, replayed
        ids = {r.json()["data"]["id"] for r in answers(kind) if r.status_code == 201}
        assert len(ids) == 1, ids
        once[kind] = ids.pop()
        assert [record["id"] for record in net.every(path, search=search)] == [once[kind]]

    # Plain creates: each its own record, every one listed.
    assert [r.status_code for r in answers("customer") + answers("invoice")] == [201] * 20
    plain_customers = {r.json()["data"]["id"] for r in answers("customer")}
    assert {c["id"] for c in net.every("/customers", search=f"Plain {tag}")} == plain_customers
    plain_invoices = {r.json()["data"]["id"] for r in answers("invoice")}
    assert {i["id"] for i in net.every("/invoices", search=f"plain-{tag}")} == plain_invoices
    assert len(plain_customers) == 8
    assert len(plain_invoices) == 12

    # Updates racing deletes: an update answers the whole record or 404, and the deleted record is gone.
    for racer in racer_customers:
        assert [r.status_code for r in answers("delete-customer", racer)] == [204]
        for kind in ("rename-customer", "rephone-customer"):
            (reply,) = answers(kind, racer)
            assert reply.status_code in (200, 404), reply.text
            if reply.status_code == 200:  # its own change, the other update's or not, and the rest untouched
                record = reply.json()["data"]
                assert (record["id"], record["email"]) == (racer["id"], racer["email"])
                assert record["name"] in (racer["name"], f"Renamed {racer['id']}")
                assert record.get("phone") in (racer.get("phone"), f"+1 555 {racer['id']}")
                changed = record["name"] if kind == "rename-customer" else record.get("phone")
                assert changed in (f"Renamed {racer['id']}", f"+1 555 {racer['id']}")
        assert net.send("GET", f"/customers/{racer['id']}").status_code == 404
    for racer in racer_invoices:
        assert [r.status_code for r in answers("delete-invoice", racer)] == [204]
        (reply,) = answers("renote-invoice", racer)
        assert reply.status_code in (200, 404), reply.text
        if reply.status_code == 200:
            record = reply.json()["data"]
            assert record["notes"] == f"renoted {racer['id']}"
            assert (record["invoice_number"], record["items"], record["total"]) == (
                racer["invoice_number"],
                racer["items"],
                racer["total"],
            )
            assert record["due_amount"] == record["total"]
        assert net.send("GET", f"/invoices/{racer['id']}").status_code == 404
    listed_customers = {c["id"] for c in net.every("/customers", search=f"Racer {tag}")}
    assert listed_customers.isdisjoint(c["id"] for c in racer_customers)

    # Due amounts add up on every invoice touched: total minus what its payments hold, never below 0.
    payments = net.every("/payments", customer_id=customer)
    touched = [*targets.values(), *plain_invoices, once["invoice-once"]]
    for invoice_id in touched:
        invoice = net.data("GET", f"/invoices/{invoice_id}", 200)
        paid = sum(p["amount"] for p in payments if p.get("invoice_id") == invoice_id)
        assert 0 <= paid <= invoice["total"], invoice
        assert invoice["due_amount"] == invoice["total"] - paid, (invoice, paid)
        expected = "UNPAID" if paid == 0 else "PAID" if paid == invoice["total"] else "PARTIALLY_PAID"
        assert invoice["paid_status"] == expected, invoice
    assert [net.data("GET", f"/invoices/{targets[a]}", 200)["due_amount"] for a in (1_000, 3_000)] == [0, 1_000]

    # Numbers: no two invoices (nor payments) of the company share one.
    numbers = [i["invoice_number"] for i in net.every("/invoices")]
    assert len(numbers) == len(set(numbers))
    payment_numbers = [p["payment_number"] for p in net.every("/payments")]
    assert len(payment_numbers) == len(set(payment_numbers))

    failures = [seen for seen in net.seen if seen[2] >= 500]
    assert not failures, failures


def test_a_token_issued_by_one_worker_works_on_every_worker(server: LiveServer) -> None:
    form = {"grant_type": "client_credentials", "client_id": "cli_test_acme", "client_secret": "cs_test_acme_secret"}
    token = requests.post(f"{server.base}{API}/oauth/token", data=form, timeout=30).json()["access_token"]
    statuses = parallel(
        20,
        lambda _: (
            requests.get(
                f"{server.base}{API}/customers", headers={"Authorization": f"Bearer {token}"}, timeout=30
            ).status_code
        ),
    )
    assert statuses == [200] * 20


def test_the_state_survives_a_restart(database: str, server: LiveServer) -> None:
    created = call(server, "POST", "/customers", json={"name": "Still here"}).json()["data"]
    server.stop()
    restarted = LiveServer("--db", database, "--today", TODAY)
    try:
        response = requests.get(f"{restarted.base}{API}/customers/{created['id']}", headers=auth(), timeout=30)
        assert response.status_code == 200
        assert response.json()["data"]["name"] == "Still here"
    finally:
        restarted.stop()


def test_a_large_limit_reserved_in_blocks_never_admits_more_than_it_allows(database: str) -> None:
    limit = 2_500  # far enough from the limit that the workers reserve request numbers two at a time
    limited = LiveServer("--db", database, "--workers", "2", "--rate-limit", str(limit), "--today", TODAY)
    try:
        headers = {"Authorization": f"Bearer {ACME_READONLY}"}
        statuses = parallel(
            limit + 60, lambda _: requests.get(f"{limited.base}{API}/me", headers=headers, timeout=30).status_code
        )
    finally:
        limited.stop()
    assert set(statuses) == {200, 429}
    assert limit - 2 * 2 <= statuses.count(200) <= limit  # at most a block per worker left unspent


def test_a_rate_limit_is_shared_by_the_workers(database: str) -> None:
    limited = LiveServer("--db", database, "--workers", "2", "--rate-limit", "30", "--today", TODAY)
    try:
        headers = {"Authorization": f"Bearer {ACME_READONLY}"}  # a key no other test here spends
        statuses = parallel(
            60, lambda _: requests.get(f"{limited.base}{API}/me", headers=headers, timeout=30).status_code
        )
    finally:
        limited.stop()
    assert statuses.count(200) == 30
    assert statuses.count(429) == 30
