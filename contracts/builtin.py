"""The suites that ship with the harness, added to a fresh registry in the order they run.

``ratelimit`` comes last: it spends a key's request budget (and waits for it to come back).
"""

from __future__ import annotations

from contracts.suites import Registry


def suites() -> Registry:
    """A registry of the built-in suites (each module's ``ENTRY``), in run order."""
    from contracts import conformance, idempotency, ratelimit, rules, security, stateful, webhooks

    return Registry(
        module.ENTRY for module in (conformance, stateful, rules, security, webhooks, idempotency, ratelimit)
    )
