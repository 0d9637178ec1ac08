"""Soak test: minutes of mixed traffic against a live sandbox, with stalled, slow and idle clients among it.

Starts ``mockserver`` on a free port and drives it with well-behaved keep-alive clients in a few
processes (a seeded, paced mix of lists, gets, searches, creates, updates, deletes, sends, payments,
PDFs, OAuth tokens, idempotent POSTs and bad requests), beside hostile clients on raw sockets
(stalled bodies, slow bodies, idle keep-alive connections, slow readers) and a /health prober.
Every interval it prints one row: throughput, latency and errors of the well-behaved traffic,
/health p99, the server's RSS and CPU per request, and the hostile connections held and closed by
the server. Then a summary (and with --json, every sample), and the time the server took to stop.

    python bench/soak.py [--minutes 10] [--interval 30] [--rate 400] [--clients 8] [--processes 2]
                         [--stalled 8] [--slow 4] [--idle 16] [--slow-readers 2]
                         [--workers 1] [--threads 8] [--db PATH] [--seed 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import queue
import random
import select
import signal
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from run import free_port  # bench/run.py: a free port on 127.0.0.1
from store import tree_cpu, tree_pids  # bench/store.py: the server's process tree, its CPU seconds

HOST = "127.0.0.1"
KEYS = {1: "sk_test_acme_full_4eC39HqLyjWDarjtT1zdp7dc", 2: "sk_test_globex_full_8Jd3Kf0Lp2Qw5Er7Ty9U"}
OAUTH = {1: ("cli_test_acme", "cs_test_acme_secret"), 2: ("cli_test_globex", "cs_test_globex_secret")}
HOSTILE_KINDS = ("stalled", "slow", "idle", "reader")
SEARCH_TERMS = ("son", "an", "inv", "web", "ltd", "er", "group", "design", "zz-nothing")
STALLED_BODY = b'{"name":'  # of an announced 1000 bytes
SLOW_BODY = b'{"name": "Soak slow client"}'  # valid, sent one byte at a time
SLOW_READ_PATH = "/openapi.json"  # about 290 kB, far more than the socket buffers hold
SLOW_READ_CHUNK = 1024
HEALTH_EVERY = 0.1
HEALTH_TIMEOUT = 2.0


# --- well-behaved traffic (runs in worker processes) ---------------------------------------------


@dataclass
class Tally:
    """What the well-behaved clients saw over a stretch of time; sent between processes as a dict."""

    latencies: list[float] = field(default_factory=list)  # ms, every answered request
    responses: int = 0
    server_errors: int = 0  # 5xx
    transport: int = 0  # refused, reset or closed mid-request
    timeouts: int = 0  # no answer within --timeout
    unexpected: int = 0  # an answer the operation does not expect (429, a 4xx where 2xx was due, ...)
    stale: int = 0  # a reused keep-alive connection the server had closed, retried on a new one
    ops: Counter[str] = field(default_factory=Counter)
    odd: Counter[str] = field(default_factory=Counter)  # "operation status" of unexpected answers

    def merge(self, other: dict[str, Any]) -> None:
        """Add a tally received as a dict."""
        self.latencies.extend(other["latencies"])
        for name in ("responses", "server_errors", "transport", "timeouts", "unexpected", "stale"):
            setattr(self, name, getattr(self, name) + other[name])
        self.ops.update(other["ops"])
        self.odd.update(other["odd"])

    def as_dict(self) -> dict[str, Any]:
        """Plain values, to cross a process boundary or land in JSON."""
        return {
            "latencies": self.latencies,
            "responses": self.responses,
            "server_errors": self.server_errors,
            "transport": self.transport,
            "timeouts": self.timeouts,
            "unexpected": self.unexpected,
            "stale": self.stale,
            "ops": dict(self.ops),
            "odd": dict(self.odd),
        }


@dataclass
class Invoice:
    """An invoice one client created, and what is still due on it."""

    id: int
    customer_id: int
    due: int


class Client:
    """One well-behaved keep-alive client running a seeded mix of operations at a steady pace."""

    def __init__(
        self,
        port: int,
        number: int,
        seed: int,
        run_id: str,
        timeout: float,
        seeded: dict[int, tuple[list[int], list[int]]],
        tally: Tally,
        lock: threading.Lock,
    ) -> None:
        self.port, self.number, self.run_id, self.timeout = port, number, run_id, timeout
        self.tally, self.lock = tally, lock
        self.picker = random.Random(seed * 1000 + number)  # the sequence of operations, whatever the answers
        self.rng = random.Random(seed * 1000 + number + 500)  # their parameters
        self.company = 1 + number % 2
        self.headers = {"Authorization": f"Bearer {KEYS[self.company]}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None
        self.sequence = 0
        self.customers, self.invoices = seeded[self.company]  # ids no client deletes
        self.own_customers: list[int] = []  # created by this client, without invoices
        self.drafts: list[Invoice] = []
        self.sent: list[Invoice] = []
        self.last_create: tuple[str, str] | None = None  # (Idempotency-Key, body) of the last customer created
        self.mix: dict[str, tuple[int, Callable[[], None]]] = {
            "list invoices": (18, self.list_invoices),
            "list customers": (8, self.list_customers),
            "get invoice": (16, self.get_invoice),
            "get customer": (8, self.get_customer),
            "search": (5, self.search),
            "pdf": (2, self.pdf),
            "create customer": (6, self.create_customer),
            "create invoice": (6, self.create_invoice),
            "idempotent replay": (2, self.replay),
            "update": (6, self.update),
            "delete": (4, self.delete),
            "send invoice": (4, self.send_invoice),
            "record payment": (4, self.record_payment),
            "oauth token": (3, self.oauth_token),
            "malformed json": (4, self.malformed_json),
            "unknown id": (4, self.unknown_id),
        }

    def idempotency_key(self) -> str:
        """A new key each time (unique across runs, so a kept --db never replays an old one)."""
        self.sequence += 1
        return f"soak-{self.run_id}-{self.number}-{self.sequence}"

    def call(
        self,
        op: str,
        method: str,
        path: str,
        body: str | None = None,
        expect: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        bare: bool = False,
    ) -> tuple[int, dict[str, str], bytes] | None:
        """One request on the keep-alive connection, tallied; None when no answer came (``bare``: no key)."""
        sent = {**({} if bare else self.headers), **(headers or {})}
        for attempt in (1, 2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            began = time.perf_counter()
            try:
                self.conn.request(method, "/api/v1" + path, body=body, headers=sent)
                response = self.conn.getresponse()
                data = response.read()
            except TimeoutError:
                self.close()
                with self.lock:
                    self.tally.timeouts += 1
                    self.tally.ops[op] += 1
                return None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.close()
                if reused and attempt == 1:  # the server closed an idle keep-alive connection: retry once
                    with self.lock:
                        self.tally.stale += 1
                    continue
                self.failed(op, error)
                return None
            except (OSError, http.client.HTTPException) as error:
                self.close()
                self.failed(op, error)
                return None
            elapsed = (time.perf_counter() - began) * 1000
            status = response.status
            if response.will_close:
                self.close()
            with self.lock:
                self.tally.latencies.append(elapsed)
                self.tally.responses += 1
                self.tally.ops[op] += 1
                if status >= 500:
                    self.tally.server_errors += 1
                    self.tally.odd[f"{op} {status}"] += 1
                elif status not in expect:
                    self.tally.unexpected += 1
                    self.tally.odd[f"{op} {status}"] += 1
            return status, {k.lower(): v for k, v in response.getheaders()}, data
        return None

    def failed(self, op: str, error: Exception) -> None:
        """Tally a transport error."""
        with self.lock:
            self.tally.transport += 1
            self.tally.ops[op] += 1
            self.tally.odd[f"{op} {type(error).__name__}"] += 1

    def close(self) -> None:
        """Drop the connection; the next request opens a new one."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def data(self, answer: tuple[int, dict[str, str], bytes] | None, status: int) -> Any:
        """The ``data`` member of an answer with the given status, else None."""
        if answer is None or answer[0] != status:
            return None
        try:
            return json.loads(answer[2])["data"]
        except (ValueError, KeyError):
            return None

    def list_invoices(self) -> None:
        """A filtered, sorted page of invoices."""
        rng = self.rng
        query = [f"limit={rng.choice((10, 20, 50))}", f"page={rng.randint(1, 2)}"]
        query.append("sort=" + rng.choice(("id", "-id", "invoice_date", "-invoice_date", "due_date", "-due_date")))
        if rng.random() < 0.6:
            query.append("status=" + rng.choice(("DRAFT", "SENT", "VIEWED", "OVERDUE", "COMPLETED")))
        if rng.random() < 0.3:
            query.append("paid_status=" + rng.choice(("UNPAID", "PARTIALLY_PAID", "PAID")))
        if rng.random() < 0.2:
            query.append(f"customer_id={rng.choice(self.customers)}")
        self.call("list invoices", "GET", "/invoices?" + "&".join(query))

    def list_customers(self) -> None:
        """A page of customers, searched and sorted."""
        sort = self.rng.choice(("id", "-name", "name", "-created_at"))
        self.call("list customers", "GET", f"/customers?search={self.rng.choice(SEARCH_TERMS)}&sort={sort}&limit=20")

    def get_invoice(self) -> None:
        """One seeded invoice."""
        self.call("get invoice", "GET", f"/invoices/{self.rng.choice(self.invoices)}")

    def get_customer(self) -> None:
        """One seeded customer."""
        self.call("get customer", "GET", f"/customers/{self.rng.choice(self.customers)}")

    def search(self) -> None:
        """The cross-resource search."""
        self.call("search", "GET", f"/search?q={self.rng.choice(SEARCH_TERMS)}&limit=10")

    def pdf(self) -> None:
        """An invoice rendered as PDF."""
        self.call("pdf", "GET", f"/invoices/{self.rng.choice(self.invoices)}/pdf")

    def create_customer(self) -> None:
        """A new customer under a new Idempotency-Key."""
        key = self.idempotency_key()
        body = json.dumps({"name": f"Soak {self.number}-{self.sequence}", "email": f"soak{self.sequence}@example.com"})
        created = self.data(
            self.call("create customer", "POST", "/customers", body, (201,), {"Idempotency-Key": key}), 201
        )
        if created:
            self.own_customers.append(created["id"])
            self.last_create = (key, body)

    def create_invoice(self) -> None:
        """A new draft invoice for a seeded customer under a new Idempotency-Key."""
        quantity, price = self.rng.randint(1, 20), self.rng.choice((2500, 9900, 15000))
        customer = self.rng.choice(self.customers)
        body = json.dumps(
            {
                "customer_id": customer,
                "invoice_date": "2026-11-21",
                "due_date": "2026-12-21",
                "items": [{"name": "Soak work", "quantity": quantity, "price": price}],
            }
        )
        headers = {"Idempotency-Key": self.idempotency_key()}
        created = self.data(self.call("create invoice", "POST", "/invoices", body, (201,), headers), 201)
        if created:
            self.drafts.append(Invoice(created["id"], customer, created["total"]))

    def replay(self) -> None:
        """The last customer creation again, same key and body: a replay, not a second customer."""
        if self.last_create is None:
            self.create_customer()
            return
        key, body = self.last_create
        answer = self.call("idempotent replay", "POST", "/customers", body, (201,), {"Idempotency-Key": key})
        if answer is not None and answer[0] == 201 and answer[1].get("idempotent-replayed") != "true":
            with self.lock:
                self.tally.unexpected += 1
                self.tally.odd["idempotent replay not replayed"] += 1

    def update(self) -> None:
        """PATCH a draft this client made, else a seeded customer's notes."""
        body = json.dumps({"notes": f"soak {self.sequence} {self.rng.randint(0, 10**6)}"})
        if self.drafts and self.rng.random() < 0.5:
            self.call("update", "PATCH", f"/invoices/{self.rng.choice(self.drafts).id}", body)
        else:
            self.call("update", "PATCH", f"/customers/{self.rng.choice(self.customers)}", body)

    def delete(self) -> None:
        """Delete a customer this client made, else one of its drafts."""
        if self.own_customers:
            customer = self.own_customers.pop(self.rng.randrange(len(self.own_customers)))
            self.call("delete", "DELETE", f"/customers/{customer}", expect=(204,))
        elif self.drafts:
            draft = self.drafts.pop(self.rng.randrange(len(self.drafts)))
            self.call("delete", "DELETE", f"/invoices/{draft.id}", expect=(204,))
        else:
            self.create_customer()

    def send_invoice(self) -> None:
        """Send one of this client's drafts (DRAFT -> SENT)."""
        if not self.drafts:
            self.create_invoice()
            return
        draft = self.drafts.pop(0)
        headers = {"Idempotency-Key": self.idempotency_key()}
        if self.data(self.call("send invoice", "POST", f"/invoices/{draft.id}/send", None, (200,), headers), 200):
            self.sent.append(draft)

    def record_payment(self) -> None:
        """Pay half of what is due on a sent invoice, or the rest."""
        if not self.sent:
            self.send_invoice()
            return
        invoice = self.sent[0]
        amount = invoice.due if invoice.due < 200 else invoice.due // 2
        body = json.dumps(
            {
                "payment_date": "2026-11-25",
                "amount": amount,
                "customer_id": invoice.customer_id,
                "invoice_id": invoice.id,
            }
        )
        headers = {"Idempotency-Key": self.idempotency_key()}
        if self.data(self.call("record payment", "POST", "/payments", body, (201,), headers), 201):
            invoice.due -= amount
            if invoice.due <= 0:
                self.sent.pop(0)

    def oauth_token(self) -> None:
        """An OAuth2 client-credentials token."""
        client_id, secret = OAUTH[self.company]
        scope = self.rng.choice(("invoices:read", "invoices:read customers:read", "payments:write"))
        body = f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}&scope={scope}"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self.call("oauth token", "POST", "/oauth/token", body, (200,), headers, bare=True)

    def malformed_json(self) -> None:
        """A body that is not JSON: 400."""
        self.call("malformed json", "POST", "/customers", '{"name": "Soak', (400,))

    def unknown_id(self) -> None:
        """A record that does not exist: 404."""
        resource = self.rng.choice(("invoices", "customers", "payments"))
        self.call("unknown id", "GET", f"/{resource}/{self.rng.randint(10**8, 10**9)}", expect=(404,))

    def run(self, period: float, deadline: float, stop: EventType) -> None:
        """Run the mix until the deadline, one operation every ``period`` seconds (0: back to back)."""
        names = list(self.mix)
        weights = [self.mix[name][0] for name in names]
        next_at = time.monotonic()
        while not stop.is_set() and time.monotonic() < deadline:
            self.mix[self.picker.choices(names, weights)[0]][1]()
            if period:
                next_at += period
                now = time.monotonic()
                if next_at < now - 1:  # far behind: do not burst to catch up
                    next_at = now
                if next_at > now:
                    stop.wait(min(next_at, deadline) - now)
        self.close()


def traffic(
    port: int,
    numbers: list[int],
    seed: int,
    run_id: str,
    seeded: dict[int, tuple[list[int], list[int]]],
    period: float,
    timeout: float,
    deadline: float,
    stop: EventType,
    out: multiprocessing.Queue[Any],
) -> None:
    """A worker process: one thread per client, its tally sent to the parent every half second."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and sets ``stop``
    lock = threading.Lock()
    tally = Tally()
    clients = [Client(port, number, seed, run_id, timeout, seeded, tally, lock) for number in numbers]
    threads = [threading.Thread(target=c.run, args=(period, deadline, stop), daemon=True) for c in clients]
    for thread in threads:
        thread.start()

    def flush() -> None:
        """Send what was tallied since the last flush."""
        nonlocal tally
        with lock:
            sent, tally = tally, Tally()
            for client in clients:
                client.tally = tally
        out.put(sent.as_dict())

    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline + timeout + 5:
        time.sleep(0.5)
        flush()
    flush()
    out.put(None)


# --- hostile clients and the /health prober (threads of the main process) -------------------------


@dataclass
class Stops:
    """Signals to the hostile clients and the prober: connect no more (the server is stopping), let go."""

    no_new: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Hostile:
    """What one kind of hostile client saw: connections held, and how the server ended them."""

    kind: str
    stops: Stops
    open: int = 0
    connects: int = 0
    refused: int = 0  # connections refused or not accepted within 2 s
    unanswered: int = 0  # requests the server did not answer (or stopped sending) within --timeout
    closed_after: list[float] = field(default_factory=list)  # s from the stall/last request to the server's close
    at_shutdown: int = 0  # connections the stopping server ended
    completed_after: list[float] = field(default_factory=list)  # s for requests that ended normally
    answers: Counter[str] = field(default_factory=Counter)  # status codes the server sent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def closed(self, seconds: float, status: int | None) -> None:
        """The server ended a connection after ``seconds``."""
        with self.lock:
            if self.stops.no_new.is_set():
                self.at_shutdown += 1
                return
            self.closed_after.append(seconds)
            self.answers[str(status or "closed")] += 1

    def timed_out(self) -> None:
        """The server left a request unanswered for longer than the client waits."""
        with self.lock:
            self.unanswered += 1

    def completed(self, seconds: float, status: int | None) -> None:
        """A request finished normally after ``seconds``."""
        with self.lock:
            self.completed_after.append(seconds)
            self.answers[str(status or "none")] += 1

    def summary(self) -> dict[str, Any]:
        """Plain figures for the summary and JSON."""
        with self.lock:
            return {
                "connects": self.connects,
                "refused": self.refused,
                "unanswered": self.unanswered,
                "closed_by_server": len(self.closed_after),
                "closed_after_s": _spread(self.closed_after),
                "completed": len(self.completed_after),
                "completed_after_s": _spread(self.completed_after),
                "answers": dict(self.answers),
                "closed_at_shutdown": self.at_shutdown,
            }


def _spread(values: list[float]) -> dict[str, float] | None:
    """Min, median and max, None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return {"min": ordered[0], "median": statistics.median(ordered), "max": ordered[-1]}


@contextlib.contextmanager
def held(stats: Hostile, port: int, receive_buffer: int = 0) -> Iterator[socket.socket | None]:
    """A connection counted as open while the block runs; None when the server cannot be reached."""
    sock = socket.socket()
    sock.settimeout(2)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    try:
        sock.connect((HOST, port))
    except OSError:
        sock.close()
        with stats.lock:
            stats.refused += 1
        stats.stops.no_new.wait(1)
        yield None
        return
    with stats.lock:
        stats.open += 1
        stats.connects += 1
    try:
        yield sock
    finally:
        with stats.lock:
            stats.open -= 1
        sock.close()


def request_head(method: str, path: str, length: int | None = None, auth: bool = True) -> bytes:
    """The request line and headers of a raw HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    if auth:
        lines.append(f"Authorization: Bearer {KEYS[1]}")
    if length is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(data: bytes) -> int | None:
    """The status code of a response's first bytes."""
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else None


def wait_for_end(sock: socket.socket, release: threading.Event) -> tuple[bool, bytes]:
    """Wait until the server sends something or closes: (ended, first bytes); False when released first."""
    sock.settimeout(0.5)
    while not release.is_set():
        try:
            first = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return True, b""
        if first:  # the server answered (a 408, say): give it a moment to close the connection too
            sock.settimeout(5)
            with contextlib.suppress(OSError):
                while sock.recv(4096):
                    pass
        return True, first
    return False, b""


def stalled(stats: Hostile, port: int) -> None:
    """Announce 1000 bytes of body, send eight, and hold the connection until the server ends it."""
    while not stats.stops.no_new.is_set():
        with held(stats, port) as sock:
            if sock is None:
                continue
            began = time.monotonic()
            try:
                sock.sendall(request_head("POST", "/api/v1/customers", 1000) + STALLED_BODY)
            except OSError:
                stats.closed(time.monotonic() - began, None)
                continue
            ended, first = wait_for_end(sock, stats.stops.release)
            if ended:
                stats.closed(time.monotonic() - began, status_of(first))


def slow(stats: Hostile, port: int, delay: float, timeout: float) -> None:
    """Send a valid customer one byte every ``delay`` seconds, read the answer, and start again."""
    release = stats.stops.release
    while not stats.stops.no_new.is_set():
        with held(stats, port) as sock:
            if sock is None:
                continue
            began = time.monotonic()
            readable: list[socket.socket] = []
            try:
                sock.sendall(request_head("POST", "/api/v1/customers", len(SLOW_BODY)))
                for index in range(len(SLOW_BODY)):
                    readable, _, _ = select.select([sock], [], [], delay)
                    if readable or release.is_set():  # the server answered or closed before the body was in
                        break
                    sock.sendall(SLOW_BODY[index : index + 1])
            except OSError:
                stats.closed(time.monotonic() - began, None)
                continue
            if release.is_set():
                continue
            if readable:
                ended, first = wait_for_end(sock, release)
                if ended:
                    stats.closed(time.monotonic() - began, status_of(first))
                continue
            sock.settimeout(timeout)
            response = http.client.HTTPResponse(sock)
            try:
                response.begin()
                response.read()
                stats.completed(time.monotonic() - began, response.status)
            except TimeoutError:
                stats.timed_out()
            except (OSError, http.client.HTTPException):
                stats.closed(time.monotonic() - began, None)
            finally:
                response.close()


def idle(stats: Hostile, port: int, timeout: float) -> None:
    """One request on a keep-alive connection, then silence until the server closes it."""
    while not stats.stops.no_new.is_set():
        with held(stats, port) as sock:
            if sock is None:
                continue
            sock.settimeout(timeout)
            began = time.monotonic()
            response = http.client.HTTPResponse(sock)
            try:
                sock.sendall(request_head("GET", "/api/v1/health", auth=False))
                response.begin()
                response.read()
            except TimeoutError:
                stats.timed_out()
                continue
            except (OSError, http.client.HTTPException):
                stats.closed(time.monotonic() - began, None)
                continue
            finally:
                response.close()
            began = time.monotonic()
            ended, first = wait_for_end(sock, stats.stops.release)
            if ended:
                stats.closed(time.monotonic() - began, status_of(first))


def reader(stats: Hostile, port: int, delay: float, timeout: float) -> None:
    """Ask for a large response on a small receive buffer and read it 1 kB every ``delay`` seconds."""
    release = stats.stops.release
    while not stats.stops.no_new.is_set():
        with held(stats, port, receive_buffer=4096) as sock:
            if sock is None:
                continue
            began = time.monotonic()
            got, expected, head = 0, -1, b""
            sock.settimeout(timeout)
            try:
                sock.sendall(request_head("GET", SLOW_READ_PATH, auth=False))
                while not release.is_set() and (expected < 0 or got < expected):
                    chunk = sock.recv(SLOW_READ_CHUNK)
                    if not chunk:
                        break
                    got += len(chunk)
                    if expected < 0:
                        head += chunk
                        if b"\r\n\r\n" in head:
                            header = head.split(b"\r\n\r\n", 1)[0]
                            lengths = [
                                line.split(b":", 1)[1]
                                for line in header.split(b"\r\n")
                                if line.lower().startswith(b"content-length:")
                            ]
                            expected = len(header) + 4 + (int(lengths[0]) if lengths else 0)
                    release.wait(delay)
            except TimeoutError:
                stats.timed_out()
                continue
            except OSError:
                pass
            if release.is_set():
                continue
            if 0 <= expected <= got:
                stats.completed(time.monotonic() - began, status_of(head))
            else:
                stats.closed(time.monotonic() - began, status_of(head))


class Prober:
    """GET /health on a new connection every 100 ms; a probe that fails counts its elapsed time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.latencies: list[float] = []  # ms, this interval
        self.failures = 0
        self.reasons: Counter[str] = Counter()  # why probes failed, over the whole run

    def take(self) -> tuple[list[float], int]:
        """This interval's latencies and failures; starts the next interval."""
        with self.lock:
            taken = self.latencies, self.failures
            self.latencies, self.failures = [], 0
        return taken

    def run(self, stop: threading.Event) -> None:
        """Probe until stopped."""
        while not stop.is_set():
            began = time.perf_counter()
            failure = None
            conn = http.client.HTTPConnection(HOST, self.port, timeout=HEALTH_TIMEOUT)
            try:
                conn.request("GET", "/api/v1/health")
                response = conn.getresponse()
                response.read()
                failure = None if response.status == 200 else str(response.status)
            except (OSError, http.client.HTTPException) as error:
                failure = type(error).__name__
            finally:
                conn.close()
            elapsed = time.perf_counter() - began
            with self.lock:
                self.latencies.append(elapsed * 1000)
                if failure:
                    self.failures += 1
                    self.reasons[failure] += 1
            stop.wait(max(HEALTH_EVERY - elapsed, 0))


# --- the server --------------------------------------------------------------------------------


def tree_rss(pid: int) -> float:
    """Resident memory of a process and its descendants, MB."""
    total = 0
    for current in tree_pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def tree_files(pid: int) -> float:
    """Sizes of the regular files a process tree holds open (its SQLite database, WAL and index), MB."""
    paths = set()
    for current in tree_pids(pid):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{current}/fd").iterdir():
                if int(fd.name) > 2:  # not standard input, output and error (the log)
                    with contextlib.suppress(OSError):
                        paths.add(os.readlink(fd))
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            status = os.stat(path)
            if stat.S_ISREG(status.st_mode):
                total += status.st_size
    return total / 2**20


def seeded_ids(port: int) -> dict[int, tuple[list[int], list[int]]]:
    """Up to 100 customer and invoice ids of each company, read before any client creates or deletes one."""
    seeded = {}
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    for company, key in KEYS.items():
        ids: list[list[int]] = []
        for resource in ("customers", "invoices"):
            conn.request("GET", f"/api/v1/{resource}?limit=100", headers={"Authorization": f"Bearer {key}"})
            records = json.loads(conn.getresponse().read())["data"]
            ids.append([record["id"] for record in records] or [1])
        seeded[company] = (ids[0], ids[1])
    conn.close()
    return seeded


def start_server(command: list[str], port: int, log: Path, timeout: float) -> subprocess.Popen[bytes]:
    """Start the server in a session of its own and wait until /api/v1/health answers."""
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    began = time.monotonic()
    while True:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except (OSError, http.client.HTTPException):
            pass
        if process.poll() is not None or time.monotonic() - began > timeout:
            stop_server(process, 5)
            raise SystemExit(f"server did not start: {' '.join(command)}\n{log.read_text()[-2000:]}")
        time.sleep(0.1)


def stop_server(process: subprocess.Popen[bytes], wait: float) -> tuple[float, bool]:
    """SIGTERM, wait up to ``wait`` s, then SIGKILL the whole session: (seconds to stop, killed)."""
    began = time.monotonic()
    killed = False
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            killed = True
    took = time.monotonic() - began
    with contextlib.suppress(OSError):  # the parent gone, a worker it left behind is killed too
        os.killpg(process.pid, 0)
        os.killpg(process.pid, signal.SIGKILL)
        killed = True
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    return took, killed


# --- the run -------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile, None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(len(ordered) * fraction) - 1, 0)]


def fmt(value: float | None, digits: int = 1) -> str:
    """A figure, or '-' for none."""
    return "-" if value is None else f"{value:,.{digits}f}"


HEADER = (
    f"{'s':>5} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'5xx':>4} {'conn':>4} {'t/o':>4} {'odd':>4} "
    f"{'health p99':>10} {'fail':>4} {'RSS MB':>7} {'DB MB':>6} {'cpu ms/req':>10}  {'open st/sl/id/rd':>16} "
    f"{'closed st/sl/id/rd':>18}"
)


def row_text(row: dict[str, Any]) -> str:
    """One sample as a table row."""
    return (
        f"{row['elapsed_s']:>5.0f} {row['rps']:>6.0f} {fmt(row['p50_ms'], 2):>7} {fmt(row['p99_ms']):>7} "
        f"{row['server_errors']:>4} {row['transport']:>4} {row['timeouts']:>4} {row['unexpected']:>4} "
        f"{fmt(row['health_p99_ms']):>10} {row['health_failures']:>4} {row['rss_mb']:>7.1f} {row['db_mb']:>6.1f} "
        f"{fmt(row['cpu_ms_per_request'], 2):>10}  {'/'.join(str(n) for n in row['open'].values()):>16} "
        f"{'/'.join(str(n) for n in row['closed'].values()):>18}"
    )


def main() -> int:
    """Run the soak and print its rows and summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between rows")
    parser.add_argument("--rate", type=float, default=400.0, help="well-behaved requests/s in all (0: flat out)")
    parser.add_argument("--clients", type=int, default=8, help="well-behaved keep-alive connections")
    parser.add_argument("--processes", type=int, default=2, help="processes the well-behaved clients run in")
    parser.add_argument("--stalled", type=int, default=8, help="clients that announce a body and stall")
    parser.add_argument("--slow", type=int, default=4, help="clients that send a body one byte at a time")
    parser.add_argument("--idle", type=int, default=16, help="keep-alive connections idle after one request")
    parser.add_argument("--slow-readers", type=int, default=2, help="clients that read a large response slowly")
    parser.add_argument("--slow-delay", type=float, default=0.2, help="seconds between a slow client's bytes")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a client waits for an answer")
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix")
    parser.add_argument("--workers", type=int, default=None, help="server processes (default: the server's)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: the server's)")
    parser.add_argument("--db", help="the server's --db (default: in memory)")
    parser.add_argument("--json", type=Path, help="write the samples and summary here")
    args = parser.parse_args()

    port = free_port()
    command = [sys.executable, "-m", "mockserver", "--host", HOST, "--port", str(port)]
    command += ["--rate-limit", "1000000000", "--quiet"]
    for flag, value in (("--workers", args.workers), ("--threads", args.threads), ("--db", args.db)):
        if value is not None:
            command += [flag, str(value)]
    log = Path(tempfile.mkdtemp(prefix="soak-")) / "server.log"
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    out: multiprocessing.Queue[Any] = context.Queue()
    stops = Stops()
    hostile = {kind: Hostile(kind, stops) for kind in HOSTILE_KINDS}
    prober = Prober(port)
    total, tally = Tally(), Tally()
    health_all: list[float] = []
    health_failures = 0
    samples: list[dict[str, Any]] = []
    workers: list[multiprocessing.process.BaseProcess] = []
    threads: list[threading.Thread] = []
    finished = 0  # worker processes done
    interrupted = False
    open_at_stop: dict[str, int] = {}
    exit_code: int | None = None
    process: subprocess.Popen[bytes] | None = None
    shutdown_s, killed = 0.0, False

    def drain(until: float, last: bool = False) -> None:
        """Merge what the worker processes send until ``until`` (monotonic seconds), or all are done if ``last``."""
        nonlocal finished
        while (left := until - time.monotonic()) > 0:
            if finished == len(workers):
                if not last:
                    time.sleep(left)
                return
            try:
                item = out.get(timeout=left)
            except queue.Empty:
                return
            if item is None:
                finished += 1
            else:
                tally.merge(item)

    start = ended = time.monotonic()
    try:
        process = start_server(command, port, log, timeout=300)
        print(
            f"server pid {process.pid} on port {port}, up in {time.monotonic() - start:.1f} s: {' '.join(command[1:])}"
        )
        print(
            f"{args.minutes:g} min, {args.clients} clients in {args.processes} processes at "
            f"{f'{args.rate:g} req/s' if args.rate else 'full speed'}; hostile: {args.stalled} stalled, "
            f"{args.slow} slow, {args.idle} idle, {args.slow_readers} slow readers; server log {log}",
            flush=True,
        )
        seeded = seeded_ids(port)
        start = time.monotonic()
        deadline = start + args.minutes * 60
        period = args.clients / args.rate if args.rate else 0.0
        run_id = f"{int(time.time())}-{os.getpid()}"
        processes = max(min(args.processes, args.clients), 1)
        for index in range(processes):
            numbers = list(range(index, args.clients, processes))
            worker = context.Process(
                target=traffic,
                args=(port, numbers, args.seed, run_id, seeded, period, args.timeout, deadline, stop, out),
                daemon=True,
            )
            worker.start()
            workers.append(worker)
        targets: list[tuple[Callable[..., None], tuple[Any, ...], int]] = [
            (stalled, (hostile["stalled"], port), args.stalled),
            (slow, (hostile["slow"], port, args.slow_delay, args.timeout), args.slow),
            (idle, (hostile["idle"], port, args.timeout), args.idle),
            (reader, (hostile["reader"], port, args.slow_delay, args.timeout), args.slow_readers),
        ]
        for target, target_args, count in targets:
            threads += [threading.Thread(target=target, args=target_args, daemon=True) for _ in range(count)]
        threads.append(threading.Thread(target=prober.run, args=(stops.no_new,), daemon=True))
        for thread in threads:
            thread.start()

        print(HEADER, flush=True)
        last_at, last_cpu = start, tree_cpu(process.pid)
        next_row = start
        while next_row < deadline:
            next_row = min(next_row + args.interval, deadline)
            drain(next_row)
            now = time.monotonic()
            cpu = tree_cpu(process.pid)
            latencies, failures = prober.take()
            health_all += latencies
            health_failures += failures
            with contextlib.ExitStack() as locks:
                for stats in hostile.values():
                    locks.enter_context(stats.lock)
                opened = {kind: stats.open for kind, stats in hostile.items()}
                closed = {kind: len(stats.closed_after) for kind, stats in hostile.items()}
            row = {
                "elapsed_s": now - start,
                "rps": tally.responses / max(now - last_at, 1e-9),
                "requests": tally.responses,
                "p50_ms": percentile(tally.latencies, 0.5),
                "p99_ms": percentile(tally.latencies, 0.99),
                "server_errors": tally.server_errors,
                "transport": tally.transport,
                "timeouts": tally.timeouts,
                "unexpected": tally.unexpected,
                "health_p99_ms": percentile(latencies, 0.99),
                "health_failures": failures,
                "rss_mb": tree_rss(process.pid),
                "db_mb": tree_files(process.pid),
                "cpu_ms_per_request": (cpu - last_cpu) * 1000 / tally.responses if tally.responses else None,
                "open": opened,
                "closed": closed,
            }
            samples.append(row)
            print(row_text(row), flush=True)
            total.merge(tally.as_dict())
            tally = Tally()
            last_at, last_cpu = now, cpu
            if process.poll() is not None:
                print(f"the server exited (code {process.returncode}): stopping", flush=True)
                break
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: stopping", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave the server running
        stop.set()
        ended = time.monotonic()
        drain(ended + args.timeout + 5, last=True)  # the requests in flight, then each worker's last tally
        total.merge(tally.as_dict())
        for spawned in workers:
            spawned.join(timeout=1)
            if spawned.is_alive():
                spawned.terminate()
        stops.no_new.set()  # the hostile clients still hold their connections while the server stops
        open_at_stop = {kind: stats.open for kind, stats in hostile.items()}
        if process is not None:
            exit_code = process.poll()  # None: still running, as it should be
            shutdown_s, killed = stop_server(process, 30)
        stops.release.set()
        for thread in threads:
            thread.join(timeout=3)

    elapsed = ended - start
    latencies, failures = prober.take()
    health_all += latencies
    health_failures += failures
    rss = [row["rss_mb"] for row in samples]
    summary: dict[str, Any] = {
        "interrupted": interrupted,
        "seconds": elapsed,
        "requests": total.responses,
        "rps": total.responses / max(elapsed, 1e-9),
        "p50_ms": percentile(total.latencies, 0.5),
        "p99_ms": percentile(total.latencies, 0.99),
        "max_ms": max(total.latencies, default=None),
        "server_errors": total.server_errors,
        "transport_errors": total.transport,
        "timeouts": total.timeouts,
        "unexpected": total.unexpected,
        "stale_keepalive_retries": total.stale,
        "odd": dict(total.odd.most_common()),
        "ops": dict(total.ops.most_common()),
        "health_probes": len(health_all),
        "health_p50_ms": percentile(health_all, 0.5),
        "health_p99_ms": percentile(health_all, 0.99),
        "health_failures": health_failures,
        "health_failure_reasons": dict(prober.reasons),
        "rss_first_mb": rss[0] if rss else None,
        "rss_last_mb": rss[-1] if rss else None,
        "rss_max_mb": max(rss, default=None),
        "rss_growth_mb": rss[-1] - rss[0] if rss else None,
        "db_first_mb": samples[0]["db_mb"] if samples else None,
        "db_last_mb": samples[-1]["db_mb"] if samples else None,
        "hostile": {kind: {**stats.summary(), "open_at_stop": open_at_stop[kind]} for kind, stats in hostile.items()},
        "server_exited_during_run": exit_code,
        "shutdown_s": shutdown_s,
        "shutdown_killed": killed,
    }
    print_summary(summary, log)
    if args.json:
        config = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()}
        document = {"config": config, "command": command, "samples": samples, "summary": summary}
        args.json.write_text(json.dumps(document, indent=1) + "\n")
        print(f"samples and summary written to {args.json}")
    return 130 if interrupted else 0


def print_summary(s: dict[str, Any], log: Path) -> None:
    """The end-of-run figures."""
    print(
        f"\nwell-behaved: {s['requests']:,} requests in {s['seconds']:.0f} s = {s['rps']:.0f} req/s, "
        f"p50 {fmt(s['p50_ms'], 2)} ms, p99 {fmt(s['p99_ms'])} ms, max {fmt(s['max_ms'])} ms"
    )
    print(
        f"errors: {s['server_errors']} 5xx, {s['transport_errors']} transport, {s['timeouts']} timeouts, "
        f"{s['unexpected']} unexpected answers; {s['stale_keepalive_retries']} stale keep-alive retries"
    )
    if s["odd"]:
        print("  " + ", ".join(f"{name}: {count}" for name, count in list(s["odd"].items())[:10]))
    print(
        f"/health: {s['health_probes']} probes, p50 {fmt(s['health_p50_ms'], 2)} ms, "
        f"p99 {fmt(s['health_p99_ms'])} ms, {s['health_failures']} failed {s['health_failure_reasons'] or ''}"
        f"(timeout {HEALTH_TIMEOUT:g} s)"
    )
    print(
        f"server RSS: first {fmt(s['rss_first_mb'])} MB, last {fmt(s['rss_last_mb'])} MB, "
        f"max {fmt(s['rss_max_mb'])} MB, growth {fmt(s['rss_growth_mb'])} MB; "
        f"open files (database): {fmt(s['db_first_mb'])} -> {fmt(s['db_last_mb'])} MB"
    )
    for kind, h in s["hostile"].items():
        if not h["connects"] and not h["refused"]:
            continue
        closed, done = h["closed_after_s"], h["completed_after_s"]
        print(
            f"{kind:>8}: {h['connects']} connections ({h['refused']} refused, {h['unanswered']} unanswered); "
            f"{h['closed_by_server']} ended by the server"
            + (f" after {closed['min']:.1f}-{closed['max']:.1f} s (median {closed['median']:.1f})" if closed else "")
            + f", {h['completed']} completed"
            + (f" in {done['min']:.1f}-{done['max']:.1f} s" if done else "")
            + (f", answers {h['answers']}" if h["answers"] else "")
            + f"; {h['open_at_stop']} open at SIGTERM, {h['closed_at_shutdown']} of them closed by the stopping server"
        )
    if s["server_exited_during_run"] is not None:
        print(f"the server exited during the run, code {s['server_exited_during_run']}")
    else:
        print(f"shutdown: {s['shutdown_s']:.1f} s after SIGTERM{' (killed)' if s['shutdown_killed'] else ''}")
    lines = log.read_text(errors="replace").splitlines()
    interesting = [line for line in lines if "WARNING] Configuration allows" not in line]
    if interesting:
        print(f"server log ({len(interesting)} lines, {log}), last ones:")
        for line in interesting[-5:]:
            print("  " + line[:200])


if __name__ == "__main__":
    sys.exit(main())
