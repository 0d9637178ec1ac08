"""The webhooks suite: subscribe a receiver of our own, make every documented event happen, judge what arrives.

The harness starts its own receiver (``--webhook-listen HOST:PORT``, default 127.0.0.1 and a free port; the
target POSTs to ``--webhook-public-url``, default ``http://HOST:PORT``), subscribes it through the API to every
event of the spec's ``webhooks:`` section, triggers each event through the API as its ``x-sandbox-emit`` says
(``contracts.webhooks.triggers``), waits for the deliveries (at most ``--webhook-wait`` seconds, then a short
settle for duplicates) and checks them. Everything is read from the spec: events, payload schemas, header
parameters, the subscription operation, transitions. Nothing knows invoices.

Checks and rules:

- ``webhooks/forbidden targets`` (``webhooks.forbidden_target``): subscribing a cloud metadata URL
  (``http://169.254.169.254/latest/meta-data/``) or a private address (``http://10.0.0.1/``) is refused with 4xx.
- ``webhooks/<event>``, one per documented event: the triggered event arrives, once (``webhooks.delivery``,
  ``webhooks.once``); every delivery of it matches the documented payload schema (``webhooks.payload``) and
  header parameters and content type (``webhooks.headers``); ``X-Webhook-Signature`` is the hex HMAC-SHA256
  of the raw body keyed with the secret and ``webhook-signature`` verifies with ``standardwebhooks``
  (``webhooks.signature``); the timestamps are within ``--webhook-tolerance`` (300 s) of the receiver's clock
  (``webhooks.timestamp``). An event the suite cannot trigger is skipped with the reason (what only the
  customer does is simulated through the sandbox's control surface, and needs ``--admin-token``).
- ``webhooks/deliveries``: delivery ids are unique across deliveries (``webhooks.unique_ids``), no delivery is
  sent again after a 2xx and no event twice (``webhooks.once``), nothing arrives that was not subscribed
  (``webhooks.delivery``).
- ``webhooks/retries`` (``webhooks.retries``): a second subscription whose receiver answers 500 to the first
  attempts of one delivery sees retries with the same delivery ids and growing gaps; the receiver answers 200
  once the gaps have grown (at least three attempts).

Subscriptions, and the records made to trigger events, are deleted afterwards (best effort).

Layout: ``spec`` reads events, the subscription operation and transitions; ``receiver`` is the HTTP server;
``triggers`` makes events happen; ``judge`` checks deliveries; ``session`` runs it all and builds the checks.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator

import yaml

from contracts.results import CheckResult, Failure, Outcome
from contracts.security.fixtures import Context
from contracts.suites import Entry, Setting
from contracts.target import WEBHOOK_TOLERANCE, WEBHOOK_WAIT, Target
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
)
from contracts.webhooks.receiver import Receiver
from contracts.webhooks.session import FORBIDDEN_URLS, RULES, SETUP, SUITE, RetryResponder, Session, skipped
from contracts.webhooks.spec import events_of, find_subscription

__all__ = [
    "DELIVERY",
    "FORBIDDEN",
    "FORBIDDEN_URLS",
    "HEADERS",
    "ONCE",
    "PAYLOAD",
    "RETRIES",
    "RULES",
    "SIGNATURE",
    "SUITE",
    "TIMESTAMP",
    "UNIQUE_IDS",
    "Receiver",
    "RetryResponder",
    "Session",
    "events_of",
    "find_subscription",
    "run",
]


def run(target: Target) -> Iterator[CheckResult]:
    """Run the webhooks checks against ``target`` (skipped with the reason when it has no webhooks)."""
    started = time.monotonic()
    try:
        ctx = Context(target)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        yield CheckResult(
            SUITE, "webhooks/spec", Outcome.ERROR, [Failure(SETUP, f"the spec could not be loaded: {exc}")]
        )
        return
    events = events_of(ctx.spec)
    if not events:
        reason = "the spec declares no webhooks (no OpenAPI 3.1 `webhooks:` section): nothing to subscribe to"
        yield skipped("webhooks", reason, started)
        return
    if not ctx.has("full"):
        yield skipped("webhooks", "needs a full-access key to subscribe and trigger events (--key full=...)", started)
        return
    subscription = find_subscription(ctx.spec, ctx.resources, events)
    if subscription is None:
        reason = "the spec has a webhooks section but no operation that subscribes a URL to events"
        yield skipped("webhooks", reason, started)
        return
    session = Session(ctx, events, subscription)
    try:
        yield from session.checks()
    except Exception as exc:  # an answer the suite could not read stops it with an error, never the whole run
        where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        failure = Failure(SETUP, f"the suite stopped on {where}")
        yield CheckResult(SUITE, "webhooks/suite", Outcome.ERROR, [failure], seconds=time.monotonic() - started)
    finally:
        session.close()


SETTINGS = (
    Setting(
        "webhook_listen",
        "where the suite's webhook receiver listens (default: 127.0.0.1 and a free port)",
        "HOST:PORT",
    ),
    Setting(
        "webhook_public_url",
        "the receiver's URL as the target reaches it (default: http://HOST:PORT of --webhook-listen)",
        "URL",
    ),
    Setting(
        "webhook_wait",
        f"how long to wait for deliveries and retries (default: {WEBHOOK_WAIT:g})",
        "SECONDS",
        number=True,
    ),
    Setting(
        "webhook_tolerance",
        f"how far a delivery's timestamp may be off the receiver's clock (default: {WEBHOOK_TOLERANCE:g})",
        "SECONDS",
        number=True,
    ),
)
# Needs a receiver the target can reach: asked for by name.
ENTRY = Entry(SUITE, run, default=False, settings=SETTINGS)
