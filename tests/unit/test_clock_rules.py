"""The date-driven rules the contract suite reads from a spec (``x-sandbox-clock``), and that the domain obeys them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts import spec_document
from contracts.rules.clock_rules import ClockRule, clock_rules
from domains.invoicing.lifecycle import estimate_status, invoice_status

SPEC: dict[str, Any] = spec_document.read(Path(__file__).resolve().parents[2] / "openapi.yaml")
TODAY = dt.date(2026, 6, 15)
# collection -> (its record schema, the domain's function of the status a record shows on a day)
DOMAIN: dict[str, tuple[str, Callable[[dict[str, Any], dt.date], str | None]]] = {
    "/invoices": ("InvoiceFields", invoice_status),
    "/estimates": ("EstimateFields", estimate_status),
}


def by_collection(spec: dict[str, Any]) -> dict[str, ClockRule]:
    return {rule.collection: rule for rule in clock_rules(spec)}


def test_the_spec_declares_overdue_invoices_and_expired_estimates() -> None:
    rules = by_collection(SPEC)
    assert set(rules) == {"/invoices", "/estimates"}
    overdue, expired = rules["/invoices"], rules["/estimates"]
    assert (overdue.field, overdue.to, overdue.after, overdue.sources) == (
        "status",
        "OVERDUE",
        "due_date",
        frozenset({"SENT", "VIEWED"}),
    )
    assert overdue.unless == (("paid_status", "PAID"),)
    assert {"send", "mark-paid"} <= {action.name for action in overdue.actions}
    assert {"status", "customer_id"} <= overdue.filters
    assert (expired.to, expired.after, expired.sources, expired.unless) == (
        "EXPIRED",
        "expiry_date",
        frozenset({"DRAFT", "SENT"}),
        (),
    )


@pytest.mark.parametrize("collection", sorted(DOMAIN))
def test_the_domain_does_what_the_spec_declares(collection: str) -> None:
    """Each status of the field, past its date or not, paid or not: the domain shows what the declared rule says."""
    rule = by_collection(SPEC)[collection]
    schema, shown_on = DOMAIN[collection]
    enum = SPEC["components"]["schemas"][schema]["properties"][rule.field]["enum"]
    exemptions: list[dict[str, Any]] = [{}] + [{field: value} for field, value in rule.unless]
    for status in enum:
        for offset in (-1, 0, 1):
            for exempt in exemptions:
                record = {rule.field: status, rule.after: (TODAY + dt.timedelta(days=offset)).isoformat(), **exempt}
                shown = shown_on(record, TODAY)
                applies = status in rule.sources and offset < 0 and not exempt
                if applies:
                    assert shown == rule.to, record
                elif status != rule.to:
                    assert shown == status, record


def test_a_rule_of_another_api_is_found_by_the_same_reading() -> None:
    """Nothing is invoice-specific: a subscription that lapses after renews_on is found with its action and filter."""
    record = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "state": {"type": "string", "enum": ["PENDING", "ACTIVE", "LAPSED"]},
            "renews_on": {"type": "string", "format": "date"},
        },
        "x-sandbox-clock": [{"field": "state", "from": ["ACTIVE"], "to": "LAPSED", "after": "renews_on"}],
    }
    page = {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Sub"}}}}
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Sub"}}}}
    spec: dict[str, Any] = {
        "components": {"schemas": {"Sub": record}},
        "paths": {
            "/subscriptions": {
                "get": {
                    "parameters": [{"name": "state", "in": "query"}],
                    "responses": {"200": {"content": {"application/json": {"schema": page}}}},
                },
                "post": {"requestBody": body},
            },
            "/subscriptions/{sub}/activate": {
                "post": {"x-sandbox-transition": {"field": "state", "from": ["PENDING"], "to": "ACTIVE"}}
            },
        },
    }
    (rule,) = clock_rules(spec)
    assert (rule.collection, rule.field, rule.to, rule.after, rule.filters) == (
        "/subscriptions",
        "state",
        "LAPSED",
        "renews_on",
        frozenset({"state"}),
    )
    assert [(a.name, a.sources, a.to) for a in rule.actions] == [("activate", frozenset({"PENDING"}), "ACTIVE")]
    record["x-sandbox-clock"] = [{"field": "state", "from": ["ACTIVE"], "to": "GONE", "after": "renews_on"}]
    assert clock_rules(spec) == []  # a status the field cannot hold is no rule to check
