"""Domains are plug-ins chosen by the spec: a spec that asks for none gets no invoicing rules, fixtures or fields."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ACME_FULL, ROOT, auth
from flask.testing import FlaskClient

from api.support import spec_app
from contracts import spec_document
from mockserver.app import create_app
from mockserver.behaviours.domain import DomainError, chosen_domain, known_domains, load_domain
from mockserver.behaviours.registry import Behaviours, DuplicateBehaviour
from mockserver.settings import Settings

MONEY = {"type": "integer", "minimum": 0}


def foreign_spec(**root: Any) -> dict[str, Any]:
    """Another company's API whose names happen to match the invoicing domain's: invoices and currencies."""
    line = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "quantity": {"type": "number"}, "price": MONEY, "total": MONEY},
    }
    invoice = {
        "type": "object",
        "required": ["customer_name", "items"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "company_id": {"type": "integer"},
            "customer_name": {"type": "string"},
            "items": {"type": "array", "items": line},
            "discount": MONEY,
            "sub_total": MONEY,
            "total": MONEY,
            "due_amount": MONEY,
        },
    }
    currency = {"type": "object", "properties": {"id": {"type": "integer"}, "code": {"type": "string"}}}

    def collection(name: str, schema: dict[str, Any]) -> dict[str, Any]:
        listed = {
            "200": {
                "description": "A page",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"data": {"type": "array", "items": schema}}}
                    }
                },
            }
        }
        created = {
            "201": {
                "description": "Created",
                "content": {"application/json": {"schema": {"type": "object", "properties": {"data": schema}}}},
            }
        }
        body = {"required": True, "content": {"application/json": {"schema": schema}}}
        return {
            "get": {"operationId": f"list_{name}", "responses": listed},
            "post": {"operationId": f"create_{name}", "requestBody": body, "responses": created},
        }

    return {
        "openapi": "3.1.0",
        **root,
        "info": {"title": "Billing elsewhere", "version": "1"},
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {"/invoices": collection("invoices", invoice), "/currencies": collection("currencies", currency)},
    }


def client_for(tmp_path: Path, document: dict[str, Any], **settings: Any) -> FlaskClient:
    return spec_app(tmp_path, document, seed=1, scale=0.2, **settings).test_client()


NEW_INVOICE = {"customer_name": "Ann", "items": [{"name": "Work", "quantity": 2, "price": 500}], "total": 7}


def test_a_spec_that_asks_for_no_domain_gets_no_invoicing_rules_fixtures_or_fields(tmp_path: Path) -> None:
    client = client_for(tmp_path, foreign_spec())
    created = client.post("/invoices", json=NEW_INVOICE, headers=auth(ACME_FULL))
    assert created.status_code == 201, created.get_json()
    invoice = created.get_json()["data"]
    assert invoice["total"] == 7  # as the client sent it: no totals derived from the lines
    assert "sub_total" not in invoice
    assert "company_id" not in invoice  # no owning company stamped
    codes = {c["code"] for c in client.get("/currencies", headers=auth(ACME_FULL)).get_json()["data"]}
    assert not {"USD", "EUR", "JPY"} <= codes  # the domain's reference currencies are not loaded


def test_the_same_spec_asking_for_the_invoicing_domain_gets_its_rules(tmp_path: Path) -> None:
    client = client_for(tmp_path, foreign_spec(**{"x-sandbox-domain": "invoicing"}))
    invoice = client.post("/invoices", json=NEW_INVOICE, headers=auth(ACME_FULL)).get_json()["data"]
    assert (invoice["sub_total"], invoice["total"]) == (1000, 1000)
    assert invoice["company_id"] == 1
    codes = {c["code"] for c in client.get("/currencies", headers=auth(ACME_FULL)).get_json()["data"]}
    assert {"USD", "EUR", "JPY"} <= codes


def test_domain_flag_overrides_the_spec_both_ways(tmp_path: Path) -> None:
    chosen = client_for(tmp_path, foreign_spec(), domain="invoicing")
    assert chosen.post("/invoices", json=NEW_INVOICE, headers=auth(ACME_FULL)).get_json()["data"]["total"] == 1000
    none = create_app(Settings(seed=1, scale=0.2, domain="none"))
    assert none.extensions["sandbox"]["engine"].behaviours.registered() == frozenset()
    assert none.extensions["sandbox"]["engine"].domain is None


def test_openapi_yaml_names_its_domain_and_each_app_gets_its_own_registry() -> None:
    document = spec_document.read(ROOT / "openapi.yaml")
    assert chosen_domain(document, None) == "invoicing"
    first, second = (create_app(Settings(seed=1, scale=0.2)).extensions["sandbox"]["engine"] for _ in range(2))
    assert first.behaviours is not second.behaviours
    assert "markInvoicePaid" in first.behaviours.registered()


def test_a_second_behaviour_for_one_operation_is_refused() -> None:
    def one(call: Any, engine: Any) -> Any:
        return None

    def other(call: Any, engine: Any) -> Any:
        return None

    behaviours = Behaviours()
    behaviours.add("getThing", one)
    behaviours.add("getThing", one)  # the same function again changes nothing
    with pytest.raises(DuplicateBehaviour, match="getThing"):
        behaviours.add("getThing", other)


def test_domains_are_found_by_entry_point_or_import_path() -> None:
    assert "invoicing" in known_domains()
    assert load_domain("invoicing").name == "invoicing"
    assert load_domain("domains.invoicing:InvoicingDomain").name == "invoicing"
    with pytest.raises(DomainError, match=r"unknown domain 'ledger' \(known: invoicing\)"):
        load_domain("ledger")
    with pytest.raises(DomainError, match="not a domain plug-in"):
        load_domain("pathlib:Path")
    with pytest.raises(DomainError, match="must name a domain"):
        chosen_domain({"x-sandbox-domain": 3}, None)


def test_an_unknown_domain_is_one_line_at_start_up() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "--port", "0", "--domain", "ledger"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mockserver: unknown domain 'ledger' (known: invoicing); name a plug-in as package.module:Class, "
        "or use --domain none to serve the spec without one."
    ]
