"""Invariants under concurrent HTTP traffic, with two worker processes sharing one database.

Runs on a SQLite file and, when one is configured (tests/postgres.py), on PostgreSQL: every
rule that spans requests (ids, numbers, payments, idempotency, rate limits, OAuth tokens) must
hold across processes, and the state must survive a restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
