"""Behaviours: generic CRUD by operation kind; a domain plug-in adds an API's own rules. No Flask here."""

from __future__ import annotations

from mockserver.behaviours.context import TokenIssuer
from mockserver.behaviours.domain import Domain, DomainError, chosen_domain, load_domain
from mockserver.behaviours.engine import Engine


def install_domain(engine: Engine, issuer: TokenIssuer, domain: Domain | None) -> None:
    """Attach the platform's services, then the chosen domain's behaviours and rule hooks (if any)."""
    engine.issuer = issuer
    if domain is not None:
        engine.domain = domain.name
        domain.install(engine)


__all__ = ["Domain", "DomainError", "Engine", "TokenIssuer", "chosen_domain", "install_domain", "load_domain"]
