"""Send queued webhook deliveries in the background, retry them with backoff, and log every attempt.

Deliveries wait in the store (``behaviours.events`` queues them in the transaction that caused them).
Every server worker runs one ``Dispatcher``: a thread that looks for due deliveries (woken at once by
a commit in its own process, and when a retry it scheduled falls due; else every ``poll_seconds`` while
it finds some, twice as long after each look that finds none, up to ``idle_poll_seconds``, so an idle
sandbox does not query its database five times a second) and hands each to a small pool of sender
threads, so a slow, dead or hanging receiver never holds up the API. A lease in the shared ephemera
makes each attempt happen in one worker only, however many share the database.

A dead receiver's deliveries pile up (a fuzzer subscribes example URLs): worked off oldest first alone,
that backlog would hold every other webhook's deliveries behind it. So the senders' turns alternate between
the deliveries that fell due last and the oldest ones, and a pass leases only as many as the senders can
start soon (never a long queue of leased attempts): a fresh delivery or retry goes out on time while the
backlog drains at half the pace, and neither side starves the other.
"""

from __future__ import annotations

import atexit
import datetime as dt
import itertools
import logging
import math
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mockserver.behaviours.engine import Engine
from mockserver.behaviours.events import DELIVERIES, WEBHOOKS
from mockserver.jsonio import dumps
from mockserver.platform.webhook_sender import Attempt, Sender, backoff, delivery_headers, rfc3339
from mockserver.platform.webhook_targets import TargetPolicy, TargetRefused
from mockserver.state.clock import rfc3339_ms
from mockserver.store import Condition, Ephemera, Order, Query, Record

log = logging.getLogger("mockserver.webhooks")
LEASES = "webhook-lease"
TEST_EVENT = "webhook.test"  # sent even to a switched-off webhook, as testWebhook documents
RETRY_MARGIN = 0.005  # seconds the loop looks after a retry falls due (the sandbox clock is read separately)
# The longest an idle loop sleeps unwoken: it still finds, that late, what another process queued and left
# (a worker that died holding leases) or what a clock moved by another worker made due.
IDLE_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how far apart a failing delivery is retried (``scale`` shrinks every wait, for tests)."""

    attempts: int = 8
    base_seconds: float = 10.0
    cap_seconds: float = 3600.0
    scale: float = 1.0
    disable_after: int = 20  # consecutive failed deliveries before a webhook is switched off, as providers do

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds before retry number ``attempt`` (1-based), exponential with equal jitter."""
        return backoff(attempt, base=self.base_seconds * self.scale, cap=self.cap_seconds * self.scale, rng=rng)


class Dispatcher:
    """One worker's delivery loop: find due deliveries, lease them, send them, record the outcome."""

    def __init__(
        self,
        engine: Engine,
        targets: TargetPolicy,
        sender: Sender,
        shared: Ephemera,
        retry: RetryPolicy | None = None,
        *,
        senders: int = 4,
        poll_seconds: float = 0.2,
        idle_poll_seconds: float = IDLE_POLL_SECONDS,
        batch: int = 32,
        fresh: int = 4,
        lease_seconds: float = 60.0,
    ) -> None:
        self._engine = engine
        self._targets = targets
        self._sender = sender
        self._shared = shared
        self.retry = retry or RetryPolicy()
        self._senders = senders
        self._poll = poll_seconds
        self._idle_poll = max(idle_poll_seconds, poll_seconds)
        self._pace = poll_seconds  # how long the loop sleeps unwoken now: doubles after each pass that finds nothing
        self._batch = batch
        self._fresh = fresh  # deliveries that fell due last, taken turn about with the backlog each pass
        self._fresh_first = False  # which side a pass starts with: it swaps every pass
        self._in_flight = 0  # leased attempts handed to the senders and not yet finished
        self._saturated = False  # the last pass stopped at the in-flight cap: a finished attempt makes room for more
        self._next_retry: float | None = None  # when (monotonic) the soonest retry scheduled here falls due
        self._looking_at = 0.0  # when (monotonic) the sleeping loop looks next unless woken
        self._asked = False  # someone asked the loop to look now (``wake``, a sender making room)
        self._replan = False  # a retry falls due before the loop would look: it should sleep less
        self._counting = threading.Lock()
        self._rng = random.Random()  # noqa: S311 - jitter, not secrecy
        self._me = f"{os.getpid()}:{id(self)}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        self._lease_seconds = lease_seconds  # longer than an attempt can take: one worker per attempt

    def start(self) -> None:
        """Start the loop in a daemon thread (idempotent)."""
        with self._starting:
            if self._thread is not None:
                return
            self._pool = ThreadPoolExecutor(self._senders, thread_name_prefix="webhook-send")
            self._thread = threading.Thread(target=self._loop, name="webhook-dispatch", daemon=True)
            self._thread.start()
            atexit.register(self.stop)  # before the store's own clean-up runs (atexit goes last in, first out)

    def resume(self) -> None:
        """Start at once if the store holds pending deliveries (queued before a restart), else on the first wake."""
        query = Query(where=(Condition("status", "eq", "pending"),), limit=1)
        for company_id in self._engine.store.company_ids():
            with self._engine.store.tenant(company_id, write=False) as tenant:
                if tenant.find(DELIVERIES, query):
                    self.start()
                    return

    def wake(self) -> None:
        """Look for due deliveries now (called after a commit that queued some); starts the loop if need be."""
        self.start()
        self._ask()

    def _ask(self) -> None:
        """Make the loop look now."""
        with self._counting:
            self._asked = True
        self._wake.set()

    def stop(self) -> None:
        """Stop looking; attempts in flight finish on their own."""
        self._stopping.set()
        self._wake.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            woken = self._wake.wait(self._wait_seconds())
            self._wake.clear()
            if self._stopping.is_set():
                return
            with self._counting:
                asked, replan = self._asked, self._replan
                self._asked = self._replan = False
            if woken and replan and not asked:
                continue  # only to sleep until a retry that falls due sooner
            try:
                found = self._pass()
            except Exception:  # a database hiccup must not end deliveries for good
                found = True  # look again at the usual pace
                if not self._stopping.is_set():
                    log.exception("webhook dispatch pass failed")
            with self._counting:
                self._pace = self._poll if found else min(self._pace * 2, self._idle_poll)

    def _wait_seconds(self) -> float:
        """How long the loop sleeps unless woken: until its next poll, or until a retry falls due before that."""
        with self._counting:
            now = time.monotonic()
            self._looking_at = min(now + self._pace, self._next_retry or math.inf)
            return max(0.0, self._looking_at - now)

    def _pass(self) -> bool:
        """Lease due deliveries while the senders have room (twice their number in flight) and hand them over.

        Returns whether any delivery was due (leased here or by another worker).
        """
        self._fresh_first = not self._fresh_first
        self._saturated = False
        with self._counting:
            if self._next_retry is not None and self._next_retry <= time.monotonic():
                self._next_retry = None  # due now: this pass looks for it
        due = self.due(fresh_first=self._fresh_first)
        for company_id, delivery_id in due:
            if self._stopping.is_set() or self._pool is None:
                break
            if self._in_flight >= 2 * self._senders:
                self._saturated = True  # the rest waits for a sender to finish (it wakes the loop)
                break
            if self._lease(company_id, delivery_id):
                with self._counting:
                    self._in_flight += 1
                try:
                    self._pool.submit(self._attempt_in_turn, company_id, delivery_id)
                except RuntimeError:  # the pool was shut down meanwhile: the lease simply runs out
                    break
        return bool(due)

    def due(self, *, fresh_first: bool = True) -> list[tuple[int, Any]]:
        """(company, delivery id) of due deliveries: those that fell due last and the oldest, turn about.

        ``fresh_first`` says which side goes first.
        """
        bound = self._engine.clock.precise_timestamp()
        # Only due deliveries are read: a backlog of retries not yet due is not decoded at every pass.
        due = (Condition("status", "eq", "pending"), Condition("next_attempt_at", "le", bound))
        fresh = Query(where=due, order=Order("next_attempt_at", descending=True), limit=self._fresh)
        oldest = Query(where=due, order=Order("next_attempt_at"), limit=self._batch)
        first: list[tuple[int, Any]] = []
        then: list[tuple[int, Any]] = []
        for company_id in self._engine.store.company_ids():
            with self._engine.store.tenant(company_id, write=False) as tenant:
                first += [(company_id, row["id"]) for row in tenant.find(DELIVERIES, fresh)]
                then += [(company_id, row["id"]) for row in tenant.find(DELIVERIES, oldest)]
        if not fresh_first:
            first, then = then, first
        turns = itertools.chain.from_iterable(itertools.zip_longest(first, then))
        return list(dict.fromkeys(item for item in turns if item is not None))

    def deliver_now(self, company_id: int, delivery_id: Any) -> None:
        """Make one attempt at once, in this thread (tests and the loop's senders use it)."""
        if self._lease(company_id, delivery_id):
            self._attempt_safely(company_id, delivery_id)

    def _lease(self, company_id: int, delivery_id: Any) -> bool:
        now = time.time()
        key = f"{company_id}:{delivery_id}"
        return self._shared.claim(LEASES, key, self._me, now + self._lease_seconds, now) is None

    def _attempt_in_turn(self, company_id: int, delivery_id: Any) -> None:
        """A sender's attempt: one fewer in flight when it ends, and the loop woken if due ones wait for room."""
        try:
            self._attempt_safely(company_id, delivery_id)
        finally:
            with self._counting:
                self._in_flight -= 1
            if self._saturated:
                self._ask()

    def _attempt_safely(self, company_id: int, delivery_id: Any) -> None:
        try:
            self._attempt(company_id, delivery_id)
        except Exception:
            log.exception("webhook delivery %s of company %s failed", delivery_id, company_id)
        finally:
            self._shared.discard(LEASES, f"{company_id}:{delivery_id}")

    def _attempt(self, company_id: int, delivery_id: Any) -> None:
        with self._engine.store.tenant(company_id, write=False) as tenant:
            delivery = tenant.get(DELIVERIES, delivery_id)
            webhook = tenant.get(WEBHOOKS, delivery["webhook_id"]) if delivery else None
        if delivery is None or delivery.get("status") != "pending":
            return  # finished by another worker since it was found
        final = False
        switched_off = webhook is not None and webhook.get("active") is False and delivery.get("event") != TEST_EVENT
        if webhook is None or switched_off:
            attempt, final = self._refusal("the webhook was deleted or switched off (active: false)"), True
        else:
            try:
                target = self._targets.check(str(webhook.get("url", "")))
            except TargetRefused as refused:
                attempt, final = self._refusal(str(refused)), True
            else:
                body = dumps(delivery["payload"])
                headers = delivery_headers(
                    secret=str(webhook.get("secret") or ""),
                    body=body,
                    event=str(delivery["event"]),
                    delivery_id=delivery["id"],
                    timestamp=int(time.time()),
                )
                attempt = self._sender.send(target, body, headers)
        self._record(company_id, delivery_id, attempt, final=final)

    def _refusal(self, reason: str) -> Attempt:
        return Attempt(at=rfc3339(time.time()), status=None, latency_ms=0.0, error=reason, delivered=False)

    def _record(self, company_id: int, delivery_id: Any, attempt: Attempt, *, final: bool) -> None:
        """Append the attempt, then settle the delivery or schedule its retry (and count the webhook's failures)."""
        with self._engine.store.tenant(company_id) as tenant:
            delivery = tenant.get(DELIVERIES, delivery_id)
            if delivery is None or delivery.get("status") != "pending":
                return
            count = int(delivery.get("attempts") or 0) + 1
            logged = {k: v for k, v in attempt.as_record().items() if k != "delivered"}
            delivery.update(attempts=count, response_status=attempt.status)
            delivery["attempt_log"] = [*(delivery.get("attempt_log") or []), logged]
            delay: float | None = None  # seconds until the retry, if there is one
            if attempt.delivered:
                delivery.update(status="delivered", next_attempt_at=None)
            elif final or count >= self.retry.attempts:
                delivery.update(status="failed", next_attempt_at=None)
            else:
                delay = self.retry.delay(count, self._rng)
                delivery["next_attempt_at"] = rfc3339_ms(self._engine.clock.instant() + dt.timedelta(seconds=delay))
            tenant.put(DELIVERIES, delivery_id, delivery)
            self._count_failures(tenant, delivery, attempt)
        if delay is not None:
            self._retry_in(delay)

    def _retry_in(self, seconds: float) -> None:
        """Note that a retry falls due in ``seconds``: the loop looks then if it is before its next poll.

        Waking the loop at once would find nothing due yet (at every attempt of a dead receiver's backlog).
        """
        due = time.monotonic() + seconds + RETRY_MARGIN
        with self._counting:
            if self._next_retry is None or due < self._next_retry:
                self._next_retry = due
            sooner = due < self._looking_at
            self._replan = self._replan or sooner
        self.start()
        if sooner:
            self._wake.set()

    def _count_failures(self, tenant: Any, delivery: Record, attempt: Attempt) -> None:
        """Switch a webhook off after ``disable_after`` deliveries in a row ended failed."""
        name = f"webhooks#{delivery['webhook_id']}#failures"
        if attempt.delivered:
            tenant.set_counter(name, 0)
            return
        if delivery.get("status") != "failed":
            return
        streak = tenant.counter(name) + 1
        tenant.set_counter(name, streak)
        if streak >= self.retry.disable_after:
            webhook = tenant.get(WEBHOOKS, delivery["webhook_id"])
            if webhook is not None and webhook.get("active", True):
                webhook["active"] = False
                tenant.put(WEBHOOKS, webhook["id"], webhook)
                log.warning("webhook %s switched off after %d failed deliveries in a row", webhook["id"], streak)
