"""Behaviours: generic CRUD by operation kind, and the API's rules keyed by operationId. No Flask here."""

from __future__ import annotations

from mockserver.behaviours import accounts, documents, insights, invoicing, system, webhooks
from mockserver.behaviours.context import TokenIssuer
from mockserver.behaviours.engine import Engine


def install_domain(engine: Engine, issuer: TokenIssuer) -> None:
    """Attach the services and per-resource rule hooks the domain behaviours rely on."""
    engine.issuer = issuer
    invoicing.install(engine)
    webhooks.install(engine)
    accounts.install(engine)


__all__ = ["Engine", "TokenIssuer", "documents", "insights", "install_domain", "system"]
