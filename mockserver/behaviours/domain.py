"""Domains: plug-ins that carry an API's own rules, chosen by the spec (``x-sandbox-domain``) or ``--domain``.

The engine knows OpenAPI, HTTP and state, never invoices. A domain adds what one API means beyond
its spec: behaviours by operationId, rule hooks on resources, reference records, the field that
names a record's owning company. A spec that asks for no domain gets none of that. Domains are
found by name among the ``mockserver.domains`` entry points of installed packages, or given as
``package.module:attribute``; each app makes its own instance, so two apps never share one.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine

ENTRY_POINT_GROUP = "mockserver.domains"
SPEC_KEY = "x-sandbox-domain"
NO_DOMAIN = "none"
Reference = dict[str, list[dict[str, Any]]]


@runtime_checkable
class Domain(Protocol):
    """What a domain plug-in provides."""

    name: str

    def install(self, engine: Engine) -> None:
        """Register this domain's behaviours (``engine.behaviours``) and rule hooks on one engine."""

    def reference(self) -> Reference:
        """Reference records the domain's rules rely on (currencies, units...), by resource name."""


class DomainError(Exception):
    """A domain that cannot be found or used, in one line."""


def chosen_domain(document: dict[str, Any], override: str | None) -> str | None:
    """The domain to load: ``--domain`` when given, else the spec's ``x-sandbox-domain``; None for none."""
    name = override if override is not None else document.get(SPEC_KEY)
    if name is None or name == NO_DOMAIN:
        return None
    if not isinstance(name, str) or not name.strip():
        raise DomainError(f"{SPEC_KEY} must name a domain (a string such as 'invoicing'), not {name!r}.")
    return name.strip()


def known_domains() -> list[str]:
    """The names of the domains installed packages register."""
    return sorted({point.name for point in entry_points(group=ENTRY_POINT_GROUP)})


def load_domain(name: str) -> Domain:
    """A new instance of the domain registered under ``name``, or of ``package.module:attribute``."""
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            found: Any = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise DomainError(f"domain {name!r} cannot be loaded: {exc}.") from None
    else:
        points = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == name]
        if not points:
            known = ", ".join(known_domains()) or "none installed"
            raise DomainError(
                f"unknown domain {name!r} (known: {known}); name a plug-in as package.module:Class, "
                f"or use --domain {NO_DOMAIN} to serve the spec without one."
            )
        found = points[0].load()
    domain = found() if isinstance(found, type) else found
    if not isinstance(domain, Domain):
        raise DomainError(f"domain {name!r} is not a domain plug-in (it needs name, install() and reference()).")
    return domain
