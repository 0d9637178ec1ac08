"""The invoicing domain: money, lifecycles, payments, conversions, reports, search and PDFs.

Chosen by ``x-sandbox-domain: invoicing`` at the root of openapi.yaml (or ``--domain invoicing``),
found through the ``mockserver.domains`` entry point. Its rules attach to the resources and
operationIds of the spec it serves; a spec that does not ask for it gets none of them.
"""

from __future__ import annotations

from pathlib import Path

from domains.invoicing import accounts, currency, documents, insights, rules, system, webhooks
from mockserver.behaviours.domain import Reference
from mockserver.behaviours.engine import Engine
from mockserver.state.fixtures import read_reference

REFERENCE_FILE = Path(__file__).with_name("reference.yaml")


class InvoicingDomain:
    """The invoicing rules as a plug-in: one instance per app."""

    name = "invoicing"

    def install(self, engine: Engine) -> None:
        """Register the behaviours and per-resource rule hooks; records carry their owning ``company_id``."""
        engine.tenant_field = "company_id"
        for module in (rules, insights, system, webhooks):
            engine.behaviours.add_all(module.BEHAVIOURS)
        engine.behaviours.add_all(documents.Documents().behaviours())
        rules.install(engine)
        webhooks.install(engine)
        accounts.install(engine)
        currency.install(engine)

    def reference(self) -> Reference:
        """Currencies, units, payment methods and the other records invoices refer to."""
        return read_reference(REFERENCE_FILE)
