"""Webhook subscriptions: the signing secret, and ``webhook.test`` deliveries queued like any event's."""

from __future__ import annotations

import base64
import copy
import secrets
from typing import TYPE_CHECKING

from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.crud import find, path_id
from mockserver.behaviours.events import Fired
from mockserver.behaviours.hooks import Write
from mockserver.behaviours.registry import Behaviour
from mockserver.state.clock import Clock
from mockserver.store import Record, Tenant

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine


def install(engine: Engine) -> None:
    """Give every new subscription a signing secret unless the client chose one."""
    if "webhooks" in engine.index.resources:
        engine.hooks.add_derive("webhooks", _ensure_secret)


def _ensure_secret(webhook: Record, tenant: Tenant, clock: Clock) -> None:
    if not webhook.get("secret"):
        webhook["secret"] = new_secret()


def new_secret() -> str:
    """A signing secret in the Standard Webhooks format: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def test_webhook(call: Call, engine: Engine) -> Reply:
    """Queue a ``webhook.test`` delivery to the subscription (sent in the background) and return it (202)."""
    webhook = find(call, engine.index.resources["webhooks"], path_id(call))
    hidden = engine.index.resources["webhooks"].write_only
    payload = engine.events.payload(
        call.tenant, Fired("webhook.test", {k: v for k, v in webhook.items() if k not in hidden})
    )
    delivery = engine.events.queue(call.tenant, webhook, payload)
    return Reply(call.operation.success_status, engine.render_item(call, delivery))


def rotate_webhook_secret(call: Call, engine: Engine) -> Reply:
    """Give the webhook a new signing secret and show it this once; every later attempt is signed with it."""
    resource = engine.index.resources["webhooks"]
    webhook = find(call, resource, path_id(call))
    before = copy.deepcopy(webhook)
    webhook["secret"] = new_secret()
    webhook["updated_at"] = call.clock.timestamp()
    engine.write(call.tenant, resource, Write.ACTION, before, webhook)
    return Reply(200, engine.render_item(call, webhook))  # its response schema shows the secret


BEHAVIOURS: dict[str, Behaviour] = {
    "testWebhook": test_webhook,
    "rotateWebhookSecret": rotate_webhook_secret,
}
