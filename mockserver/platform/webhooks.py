"""Webhooks of one sandbox: where deliveries may go, the subscription check, and this worker's dispatcher."""

from __future__ import annotations

from mockserver.behaviours.engine import Engine
from mockserver.behaviours.events import WEBHOOKS
from mockserver.errors import ValidationFailed
from mockserver.platform.webhook_dispatch import Dispatcher, RetryPolicy
from mockserver.platform.webhook_sender import Sender
from mockserver.platform.webhook_targets import TargetPolicy
from mockserver.settings import Settings, SettingsError
from mockserver.state.clock import Clock
from mockserver.store import Ephemera, Record, Tenant


def webhook_dispatcher(engine: Engine, settings: Settings, shared: Ephemera) -> Dispatcher:
    """The background sender of this worker's webhook deliveries, resumed if some were left pending."""
    targets = webhook_targets(settings)

    def refuse_forbidden_targets(webhook: Record, tenant: Tenant, clock: Clock) -> None:
        refusal = targets.allows(str(webhook.get("url", "")))
        if refusal:
            raise ValidationFailed({"url": [refusal]})

    if engine.events.watched:  # the spec's events go to its webhooks records; another spec's are only data
        engine.hooks.add_client_check(WEBHOOKS, refuse_forbidden_targets)
    retry = RetryPolicy(attempts=settings.webhook_attempts, scale=settings.webhook_retry_scale)
    sender = Sender(timeout=settings.webhook_timeout)
    dispatcher = Dispatcher(engine, targets, sender, shared, retry, lease_seconds=2 * settings.webhook_timeout + 5)
    if "webhooks" in engine.index.resources and "deliveries" in engine.index.resources:
        dispatcher.resume()
    return dispatcher


def webhook_targets(settings: Settings) -> TargetPolicy:
    """Where webhooks may go: loopback and ``--webhook-allow`` (a malformed entry is a start-up error)."""
    try:
        return TargetPolicy([entry.strip() for entry in settings.webhook_allow.split(",") if entry.strip()])
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
