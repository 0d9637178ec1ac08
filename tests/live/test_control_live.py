"""The /__sandbox control surface against real servers: what only real processes and sockets can show.

Each engine (a SQLite file, and PostgreSQL when one is configured: tests/postgres.py) gets one server
with two worker processes. Requests that must reach both workers go over kept-alive connections
pinned to a known worker: each connection's worker is found from /proc (which process holds the
accepted socket), so "every worker sees it" is asserted on requests each worker really served,
alternating, never left to how the kernel happens to spread new connections.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from conftest import ACME_FULL, API, ROOT, TODAY, LiveServer, auth, free_port

pytestmark = pytest.mark.live

ADMIN_TOKEN = "live-admin-token-3f9c2a7e"
ROUNDS = 20  # requests per check, alternating between the two workers
HEALTH = f"{API}/health"


@pytest.fixture(scope="module", params=["sqlite-file", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite-file":
        return str(tmp_path_factory.mktemp("db") / "state.db")
    from postgres import fresh_database

    return fresh_database(request)


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[LiveServer]:
    started = LiveServer(
        "--db",
        database,
        "--workers",
        "2",
        "--today",
        TODAY,
        "--rate-limit",
        "1000000",
        "--admin-token",
        ADMIN_TOKEN,
        "--header-timeout",
        "120",  # a pinned connection stays open however slow a test's other requests are
    )
    yield started
    started.stop()


def admin(method: str, server: LiveServer, path: str, **kwargs: Any) -> requests.Response:
    """A request to the control surface with the admin token (any worker)."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.base}/__sandbox{path}", headers=headers, timeout=60, **kwargs)


@pytest.fixture
def sandbox(server: LiveServer) -> LiveServer:
    """The server back at its seed: no faults, its own clock, an empty journal without bodies."""
    for method, path, body in (
        ("POST", "/reset", None),
        ("DELETE", "/faults", None),
        ("DELETE", "/clock", None),
        ("PATCH", "/journal", {"size": 1000, "bodies": False}),
        ("DELETE", "/journal", None),
    ):
        response = admin(method, server, path, json=body)
        assert response.status_code in (200, 204), (method, path, response.text)
    return server


# --- connections pinned to a worker ----------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Worker:
    """One kept-alive HTTP/1.1 connection and the worker process that accepted it."""

    def __init__(self, connection: http.client.HTTPConnection, pid: int) -> None:
        self.connection = connection
        self.pid = pid

    def send(
        self,
        method: str,
        path: str,
        *,
        key: str | None = ACME_FULL,
        admin: bool = False,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """A request on this worker's connection: with the admin token, a key (default), or neither."""
        sent = dict(headers or {})
        token = ADMIN_TOKEN if admin else key
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        self.connection.request(method, path, payload, sent)
        response = self.connection.getresponse()
        reply = Reply(response.status, response.headers, response.read())
        # http.client would silently reconnect, maybe to the other worker: a closed connection must fail loudly.
        assert self.connection.sock is not None, f"worker {self.pid} closed the connection after {method} {path}"
        return reply


def worker_pids(server: LiveServer) -> list[int]:
    pid = server.process.pid
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server side of the TCP connection from ``client_port`` (from /proc/net/tcp*)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
                if (local, remote) == (server_port, client_port) and fields[9] != "0":  # 0: TIME_WAIT
                    return fields[9]
    return None


def holder(inode: str, pids: list[int]) -> int | None:
    """The process among ``pids`` that holds the socket ``inode``."""
    wanted = f"socket:[{inode}]"
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        for fd in fds.iterdir():
            try:
                if os.readlink(fd) == wanted:
                    return pid
            except OSError:  # closed since it was listed
                continue
    return None


@pytest.fixture
def workers(sandbox: LiveServer) -> Iterator[list[Worker]]:
    """One connection to each of the server's two workers (connections are opened until both answered)."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("finding which worker holds a connection needs Linux's /proc")
    pids = worker_pids(sandbox)
    assert len(pids) == 2, pids
    found: dict[int, Worker] = {}
    for _ in range(200):
        connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=60)
        connection.request("GET", HEALTH)
        connection.getresponse().read()
        assert connection.sock is not None
        inode = socket_inode(sandbox.port, connection.sock.getsockname()[1])
        pid = holder(inode, pids) if inode else None
        if pid is None or pid in found:
            connection.close()
        else:
            found[pid] = Worker(connection, pid)
        if len(found) == 2:
            break
    else:
        pytest.fail(f"200 connections never reached both workers {pids}: {sorted(found)}")
    yield list(found.values())
    for worker in found.values():
        worker.connection.close()


def alternate(workers: list[Worker], count: int = ROUNDS) -> list[Worker]:
    """``count`` workers in turn: each serves half of the requests sent to them in this order."""
    return [workers[n % len(workers)] for n in range(count)]


def tag() -> str:
    return uuid.uuid4().hex[:10]


def assert_error_shape(reply: Reply | requests.Response | httpx.Response, status: int, error: str) -> None:
    status_code = reply.status if isinstance(reply, Reply) else reply.status_code
    assert status_code == status, reply.json()
    body = reply.json()
    assert body["error"] == error
    assert body["message"]
    assert body["request_id"]


# --- every worker sees what one worker was told --------------------------------------------------------


def test_a_pinned_clock_is_seen_by_every_worker(workers: list[Worker]) -> None:
    for told, instant in ((workers[0], "2031-02-03T04:05:06Z"), (workers[1], "2032-07-08T09:10:11Z")):
        pinned = told.send("PUT", "/__sandbox/clock", admin=True, body={"at": instant})
        assert pinned.status == 200
        assert pinned.json()["now"] == instant
        stamps = [worker.send("GET", HEALTH, key=None).json()["timestamp"] for worker in alternate(workers)]
        assert stamps == [instant] * ROUNDS
        for worker in workers:
            clock = worker.send("GET", "/__sandbox/clock", admin=True).json()
            assert (clock["now"], clock["frozen"]) == (instant, True)

    advanced = workers[0].send("POST", "/__sandbox/clock/advance", admin=True, body={"by": "P1DT1H"})
    assert advanced.json()["now"] == "2032-07-09T10:10:11Z"
    stamps = [worker.send("GET", HEALTH, key=None).json()["timestamp"] for worker in alternate(workers)]
    assert stamps == ["2032-07-09T10:10:11Z"] * ROUNDS

    released = workers[1].send("DELETE", "/__sandbox/clock", admin=True).json()
    assert released["frozen"] is False
    for worker in workers:
        assert worker.send("GET", "/__sandbox/clock", admin=True).json()["frozen"] is False
        assert not worker.send("GET", HEALTH, key=None).json()["timestamp"].startswith("2032-")


def test_a_created_key_works_on_every_worker_until_it_is_revoked(workers: list[Worker]) -> None:
    name = f"Live key {tag()}"
    created = workers[0].send("POST", "/__sandbox/keys", admin=True, body={"name": name, "scopes": ["customers:read"]})
    assert created.status == 201, created.body
    secret, key_id = created.json()["key"], created.json()["id"]
    assert created.json()["source"] == "admin"

    answers = [worker.send("GET", f"{API}/customers?limit=1", key=secret) for worker in alternate(workers)]
    assert [a.status for a in answers] == [200] * ROUNDS
    for worker in workers:
        assert worker.send("GET", f"{API}/me", key=secret).json()["data"]["api_key"]["name"] == name
        refused = worker.send("POST", f"{API}/customers", key=secret, body={"name": "Not allowed"})
        assert_error_shape(refused, 403, "forbidden")  # its scopes hold on every worker too

    assert workers[1].send("DELETE", f"/__sandbox/keys/{key_id}", admin=True).status == 204
    answers = [worker.send("GET", f"{API}/customers?limit=1", key=secret) for worker in alternate(workers)]
    assert [a.status for a in answers] == [401] * ROUNDS
    assert_error_shape(answers[0], 401, "unauthorized")
    for worker in workers:
        assert worker.send("GET", f"/__sandbox/keys/{key_id}", admin=True).json()["revoked"] is True


def test_a_key_rate_limit_counts_the_requests_of_every_worker(workers: list[Worker]) -> None:
    # A pinned clock keeps every request in one fixed window, 3000 s before it ends.
    workers[0].send("PUT", "/__sandbox/clock", admin=True, body={"at": "2030-01-01T00:10:00Z"})
    created = workers[0].send(
        "POST",
        "/__sandbox/keys",
        admin=True,
        body={"name": f"Limited {tag()}", "rate_limit": {"limit": 6, "window_seconds": 3600}},
    )
    assert created.status == 201, created.body
    secret, key_id = created.json()["key"], created.json()["id"]

    answers = [worker.send("GET", f"{API}/customers?limit=1", key=secret) for worker in alternate(workers, 8)]
    assert [a.status for a in answers] == [200] * 6 + [429] * 2
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["5", "4", "3", "2", "1", "0", "0", "0"]
    for answer in answers:
        assert answer.headers["X-RateLimit-Limit"] == "6"
        assert answer.headers["X-RateLimit-Reset"] == "3000"
        assert answer.headers["RateLimit-Policy"] == '"key";q=6;w=3600'
    assert answers[0].headers["RateLimit"] == '"key";r=5;t=3000'
    assert answers[-1].headers["Retry-After"] == "3000"
    assert_error_shape(answers[-1], 429, "rate_limited")

    changed = workers[1].send(
        "PATCH", f"/__sandbox/keys/{key_id}", admin=True, body={"rate_limit": {"limit": 10, "window_seconds": 600}}
    )
    assert changed.json()["rate_limit"] == {"limit": 10, "window_seconds": 600}
    answers = [worker.send("GET", f"{API}/customers?limit=1", key=secret) for worker in alternate(workers, 4)]
    assert [a.status for a in answers] == [200] * 4  # a new limit starts a fresh window
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["9", "8", "7", "6"]
    assert answers[-1].headers["RateLimit-Policy"] == '"key";q=10;w=600'

    workers[0].send("PATCH", f"/__sandbox/keys/{key_id}", admin=True, body={"rate_limit": None})
    for worker in workers:
        answer = worker.send("GET", f"{API}/customers?limit=1", key=secret)
        assert answer.status == 200
        assert answer.headers["RateLimit-Policy"] == '"default";q=1000000;w=3600'


def test_an_error_fault_counts_its_times_across_workers(workers: list[Worker]) -> None:
    added = workers[0].send(
        "POST",
        "/__sandbox/faults",
        admin=True,
        body={"kind": "error", "operation": "getHealth", "status": 503, "times": 5},
    )
    assert added.status == 201, added.body
    fault = added.json()["id"]
    answers = [worker.send("GET", HEALTH, key=None) for worker in alternate(workers)]
    assert [a.status for a in answers] == [503] * 5 + [200] * 15  # 5 in all, not 5 per worker
    assert_error_shape(answers[0], 503, "service_unavailable")
    assert fault in answers[0].json()["message"]
    assert [f["id"] for f in workers[1].send("GET", "/__sandbox/faults", admin=True).json()["data"]] == [fault]

    # A fault without times fails every request on every worker until it is removed (through the other worker).
    always = (
        workers[1]
        .send("POST", "/__sandbox/faults", admin=True, body={"kind": "error", "operation": "getHealth", "status": 500})
        .json()["id"]
    )
    assert [w.send("GET", HEALTH, key=None).status for w in alternate(workers)] == [500] * ROUNDS
    assert workers[0].send("DELETE", f"/__sandbox/faults/{always}", admin=True).status == 204
    assert [w.send("GET", HEALTH, key=None).status for w in alternate(workers)] == [200] * ROUNDS


def test_the_journal_holds_every_request_of_both_workers(workers: list[Worker]) -> None:
    run = tag()
    ids = [f"journal-{run}-{n}" for n in range(ROUNDS)]
    for worker, request_id in zip(alternate(workers), ids, strict=True):
        assert worker.send("GET", f"{API}/customers?limit=1", headers={"X-Request-Id": request_id}).status == 200

    for worker in workers:
        journal = worker.send("GET", "/__sandbox/journal?path=/api/v1/customers*", admin=True).json()
        mine = [entry for entry in journal["data"] if entry["request_id"].startswith(f"journal-{run}-")]
        assert [entry["request_id"] for entry in mine] == ids[::-1]  # all of them, newest first
        for entry in mine:
            assert (entry["method"], entry["path"], entry["query"], entry["status"]) == (
                "GET",
                f"{API}/customers",
                "limit=1",
                200,
            )
            assert (entry["key_name"], entry["operation_id"]) == ("Acme full access", "listCustomers")
            assert entry["request_headers"]["Authorization"] == "[redacted]"
        assert not [entry for entry in journal["data"] if entry["path"].startswith("/__sandbox")]
    one = workers[1].send("GET", f"/__sandbox/journal?request_id={ids[6]}", admin=True).json()["data"]
    assert [entry["request_id"] for entry in one] == [ids[6]]

    # Keeping bodies, switched on through one worker, holds for requests the other serves.
    workers[1].send("PATCH", "/__sandbox/journal", admin=True, body={"bodies": True})
    created = workers[0].send("POST", f"{API}/customers", body={"name": f"Body {run}"}, headers={"X-Request-Id": run})
    assert created.status == 201
    (entry,) = workers[1].send("GET", f"/__sandbox/journal?request_id={run}", admin=True).json()["data"]
    assert json.loads(entry["request_body"]) == {"name": f"Body {run}"}
    assert json.loads(entry["response_body"])["data"]["id"] == created.json()["data"]["id"]


def context_switches(pid: int) -> int:
    """Context switches so far of every thread of a process and of every process it started (from /proc)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:  # a process that ended since it was listed
            continue
        for task in tasks:
            try:
                status = (task / "status").read_text()
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:  # a thread that ended since it was listed
                continue
            total += sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
    return total


def test_a_sandbox_nobody_calls_goes_quiet_after_both_workers_served(
    sandbox: LiveServer, workers: list[Worker]
) -> None:
    for worker in alternate(workers, 4):  # each worker journals requests and writes
        assert worker.send("POST", f"{API}/customers", body={"name": f"Quiet {tag()}"}).status == 201
    # Once the work a request leaves behind is done (the journal's idle second, the text index), no thread of
    # any of its processes should wake: seen before as 50 wake-ups a second per worker, for as long as it ran.
    window, most, deadline = 2.0, 6, time.monotonic() + 20
    woke: list[int] = []
    while not woke or (woke[-1] > most and time.monotonic() < deadline):
        before = context_switches(sandbox.process.pid)
        time.sleep(window)
        woke.append(context_switches(sandbox.process.pid) - before)
    assert woke[-1] <= most, f"context switches in each {window:.0f} s window with nobody calling: {woke}"


def test_a_reset_is_seen_by_every_worker_at_once(workers: list[Worker]) -> None:
    seeded = workers[0].send("GET", f"{API}/customers?limit=1").json()["meta"]["total"]
    name, key = f"Reset {tag()}", str(uuid.uuid4())
    created = workers[0].send("POST", f"{API}/customers", body={"name": name}, headers={"Idempotency-Key": key})
    assert created.status == 201
    record = created.json()["data"]["id"]
    assert [worker.send("GET", f"{API}/customers/{record}").status for worker in workers] == [200, 200]

    reset = workers[1].send("POST", "/__sandbox/reset", admin=True)
    assert reset.json() == {"reset": "all", "seed": 1, "scale": 1.0}

    assert [w.send("GET", f"{API}/customers/{record}").status for w in alternate(workers)] == [404] * ROUNDS
    for worker in workers:
        assert worker.send("GET", f"{API}/customers?limit=1").json()["meta"]["total"] == seeded
    again = workers[0].send("POST", f"{API}/customers", body={"name": name}, headers={"Idempotency-Key": key})
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] is None  # the reset forgot the key: created anew, not replayed


def test_an_imported_state_is_seen_by_every_worker(workers: list[Worker]) -> None:
    exported = workers[0].send("GET", "/__sandbox/state", admin=True).json()
    later = workers[1].send("POST", f"{API}/customers", body={"name": f"After export {tag()}"}).json()["data"]["id"]
    renamed = f"Imported {tag()}"
    (john,) = [c for c in exported["companies"]["1"]["records"]["customers"] if c["id"] == 1]
    john["name"] = renamed

    imported = workers[1].send("PUT", "/__sandbox/state", admin=True, body=exported)
    assert imported.status == 200, imported.body
    assert imported.json()["companies"] == 2

    names = [worker.send("GET", f"{API}/customers/1").json()["data"]["name"] for worker in alternate(workers)]
    assert names == [renamed] * ROUNDS
    assert [w.send("GET", f"{API}/customers/{later}").status for w in alternate(workers)] == [404] * ROUNDS

    john["name"] = 7  # a bad import changes nothing, on any worker
    refused = workers[0].send("PUT", "/__sandbox/state", admin=True, body=exported)
    assert_error_shape(refused, 422, "validation_failed")
    assert "customers" in json.dumps(refused.json()["errors"])
    assert [w.send("GET", f"{API}/customers/1").json()["data"]["name"] for w in workers] == [renamed] * 2


# --- faults a client meets --------------------------------------------------------------------------


def add_fault(server: LiveServer, **fault: Any) -> str:
    added = admin("POST", server, "/faults", json=fault)
    assert added.status_code == 201, added.text
    return str(added.json()["id"])


def customers_named(server: LiveServer, name: str) -> list[dict[str, Any]]:
    listed = requests.get(f"{server.base}{API}/customers", params={"search": name}, headers=auth(), timeout=60)
    assert listed.status_code == 200
    return [c for c in listed.json()["data"] if c["name"] == name]


def test_a_dropped_connection_fails_the_client_and_changes_nothing(sandbox: LiveServer) -> None:
    add_fault(sandbox, kind="drop", operation="createCustomer", times=2)
    name, key = f"Dropped {tag()}", str(uuid.uuid4())
    url, headers = f"{sandbox.base}{API}/customers", {**auth(), "Idempotency-Key": key}

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url, json={"name": name}, headers=headers, timeout=60)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.post(url, json={"name": name}, headers=headers, timeout=60)
    assert customers_named(sandbox, name) == []

    retried = httpx.post(url, json={"name": name}, headers=headers, timeout=60)  # the fault's 2 times are spent
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers  # the dropped attempts never ran: nothing to replay
    assert [c["id"] for c in customers_named(sandbox, name)] == [retried.json()["data"]["id"]]


def test_a_lost_answer_is_replayed_to_the_retry_with_the_same_idempotency_key(sandbox: LiveServer) -> None:
    add_fault(sandbox, kind="drop", operation="createCustomer", after=True, times=1)
    name, key = f"Lost answer {tag()}", str(uuid.uuid4())
    url, headers = f"{sandbox.base}{API}/customers", {**auth(), "Idempotency-Key": key}

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url, json={"name": name}, headers=headers, timeout=60)
    (stored,) = customers_named(sandbox, name)  # the write happened; the client never heard

    retried = httpx.post(url, json={"name": name}, headers=headers, timeout=60)
    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["data"] == stored
    assert customers_named(sandbox, name) == [stored]


def test_a_replayed_retry_is_journaled_under_its_own_request_id(sandbox: LiveServer) -> None:
    """The journal is how a test sees what its client sent: each attempt must be found by the id it sent."""
    add_fault(sandbox, kind="drop", operation="createCustomer", after=True, times=1)
    run, key = tag(), str(uuid.uuid4())
    url = f"{sandbox.base}{API}/customers"
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(url, json={"name": run}, headers={**auth(), "Idempotency-Key": key, "X-Request-Id": f"lost-{run}"})
    retried = httpx.post(
        url, json={"name": run}, headers={**auth(), "Idempotency-Key": key, "X-Request-Id": f"retry-{run}"}
    )
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.headers["X-Request-Id"] == f"lost-{run}"  # a replay is the original answer, its id included

    journaled = {request_id: journal_statuses(sandbox, request_id) for request_id in (f"lost-{run}", f"retry-{run}")}
    assert journaled == {f"lost-{run}": [201], f"retry-{run}": [201]}


def journal_statuses(server: LiveServer, request_id: str) -> list[int]:
    """The statuses the journal holds for one request id, newest first."""
    entries = admin("GET", server, "/journal", params={"request_id": request_id}).json()["data"]
    return [int(entry["status"]) for entry in entries]


def test_only_the_admin_can_send_a_state_import_bigger_than_an_api_body(sandbox: LiveServer) -> None:
    big = json.dumps({"format": 1, "padding": "x" * (3 * 1024 * 1024)})  # 3 MiB: past the 1 MiB API limit
    url = f"{sandbox.base}/__sandbox/state"
    stranger = requests.put(url, data=big, headers={"Content-Type": "application/json"}, timeout=60)
    assert stranger.status_code in (401, 413), stranger.text  # past 1 MiB unread (tests/unit/test_rsgi.py)
    keyholder = requests.put(url, data=big, headers={"Content-Type": "application/json", **auth()}, timeout=60)
    assert keyholder.status_code in (403, 413), keyholder.text
    refused = admin("PUT", sandbox, "/state", data=big, headers={"Content-Type": "application/json"})
    assert refused.status_code == 422, refused.text  # read in full, then refused as no export


def test_a_latency_fault_delays_the_answer(sandbox: LiveServer) -> None:
    add_fault(sandbox, kind="latency", operation="getHealth", latency_ms=[200, 300], times=2)
    for attempt in range(2):
        began = time.perf_counter()
        answer = requests.get(f"{sandbox.base}{HEALTH}", headers={"X-Request-Id": f"slow-{attempt}"}, timeout=60)
        elapsed = time.perf_counter() - began
        assert answer.status_code == 200  # latency delays, it does not fail
        assert elapsed >= 0.2, elapsed
        (entry,) = admin("GET", sandbox, "/journal", params={"request_id": f"slow-{attempt}"}).json()["data"]
        assert entry["latency_ms"] >= 200


# --- the admin token -----------------------------------------------------------------------------------


def test_the_control_surface_needs_the_admin_token_on_every_worker(workers: list[Worker]) -> None:
    for worker in workers:
        assert worker.send("GET", "/__sandbox", admin=True).status == 200
        assert_error_shape(worker.send("GET", "/__sandbox", key=None), 401, "unauthorized")
        for wrong in ("wrong-token-123456", ADMIN_TOKEN[:-1], ADMIN_TOKEN + "x"):
            assert_error_shape(worker.send("GET", "/__sandbox/clock", key=wrong), 401, "unauthorized")
        basic = worker.send("GET", "/__sandbox", key=None, headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
        assert_error_shape(basic, 401, "unauthorized")
        assert_error_shape(worker.send("POST", "/__sandbox/reset", key=ACME_FULL), 403, "forbidden")
        assert_error_shape(worker.send("GET", f"{API}/customers", admin=True), 401, "unauthorized")


def test_the_banner_prints_a_generated_admin_token_that_works(live_server: LiveServer) -> None:
    match = re.search(r"control\s+(\S+)/__sandbox\s+admin token (\S+)", live_server.output())
    assert match is not None, live_server.output()[:2000]
    base, token = match.groups()
    assert base == live_server.base
    assert len(token) >= 20
    answer = requests.get(f"{base}/__sandbox", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200
    assert answer.json()["companies"]
    wrong = requests.get(f"{base}/__sandbox", headers={"Authorization": "Bearer not-it-123"}, timeout=60)
    assert_error_shape(wrong, 401, "unauthorized")
    on_the_api = requests.get(f"{base}{API}/customers", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert_error_shape(on_the_api, 401, "unauthorized")


def test_a_chosen_admin_token_is_never_printed(server: LiveServer) -> None:
    # Run last: by now this server has answered many requests carrying the token.
    output = server.output()
    assert "admin token (as set by --admin-token / MOCKSERVER_ADMIN_TOKEN)" in output
    assert ADMIN_TOKEN not in output


# --- start-up ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        (("--admin-token", "tiny123"), {}, "--admin-token must be at least 8 characters long."),
        ((), {"MOCKSERVER_ADMIN_TOKEN": "tiny123"}, "--admin-token must be at least 8 characters long."),
        (("--journal-size", "-1"), {}, "--journal-size must be 0 (no journal) or more, not -1."),
        ((), {"MOCKSERVER_JOURNAL_SIZE": "-1"}, "--journal-size must be 0 (no journal) or more, not -1."),
    ],
)
def test_a_bad_control_setting_is_one_line_and_exit_2(
    flags: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", *flags, "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("MOCKSERVER_")}, **env},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"mockserver: {message}\n"
    assert "tiny123" not in result.stderr  # a secret, even a bad one, is never echoed
