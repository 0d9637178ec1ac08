"""Webhook subscriptions: the signing secret, and test deliveries queued in the deliveries log."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.crud import find, path_id
from mockserver.behaviours.registry import behaviour
from mockserver.state.clock import Clock
from mockserver.store import Record, Tenant

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine


def install(engine: Engine) -> None:
    """Give every new subscription a signing secret unless the client chose one."""
    if "webhooks" in engine.index.resources:
        engine.derive.setdefault("webhooks", []).append(_ensure_secret)


def _ensure_secret(webhook: Record, tenant: Tenant, clock: Clock) -> None:
    if not webhook.get("secret"):
        webhook["secret"] = "whsec_" + secrets.token_hex(24)


@behaviour("testWebhook")
def test_webhook(call: Call, engine: Engine) -> Reply:
    """Queue a delivery of a sample event to the subscription and return it (202)."""
    webhook = find(call, engine.index.resources["webhooks"], path_id(call))
    deliveries = engine.index.resources["deliveries"]
    delivery: Record = {
        "id": call.tenant.next_id("deliveries"),
        "webhook_id": webhook["id"],
        "event": "webhook.test",
        "status": "pending",
        "attempts": 0,
        "response_status": None,
        "created_at": call.clock.timestamp(),
        "next_attempt_at": call.clock.timestamp(),
    }
    properties = deliveries.schema.get("properties") or {}
    delivery = {k: v for k, v in delivery.items() if k in properties}
    call.tenant.put("deliveries", delivery["id"], delivery)
    return Reply(call.operation.success_status, engine.render_item(call, delivery))
