"""What the API tests share: response checks, record factories, paging, and the table of resources."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import ACME_FULL, API, auth, yaml_text
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mockserver.app import create_app
from mockserver.settings import Settings

ERROR_KEYS = {"error", "message", "request_id"}


def data_of(response: TestResponse, status: int = 200) -> Any:
    """The ``data`` member of a successful JSON response, after checking its status and envelope."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert "data" in body
    return body["data"]


def spec_app(folder: Path, spec: str | dict[str, Any], **settings: Any) -> Flask:
    """A sandbox serving a spec (YAML text, or a document) written into ``folder``."""
    path = folder / "spec.yaml"
    path.write_text(spec if isinstance(spec, str) else yaml_text(spec), encoding="utf-8")
    return create_app(Settings(spec_path=path, **settings))


def json_of(response: TestResponse, status: int = 200) -> Any:
    """The JSON of a response after checking its status."""
    assert response.status_code == status, response.text
    return response.json


def expect_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Check the API's one error shape: ``{error, message, request_id[, errors]}``; return the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert set(body) == (ERROR_KEYS | {"errors"} if status == 422 else ERROR_KEYS), body
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert body["message"].strip()
    assert body["request_id"] == response.headers["X-Request-Id"]
    if status == 422:
        assert body["errors"]
        for messages in body["errors"].values():
            assert messages
            assert all(isinstance(message, str) and message for message in messages)
    return body


def create(client: FlaskClient, path: str, body: dict[str, Any], key: str = ACME_FULL) -> dict[str, Any]:
    """POST a record and return the created representation (asserting 201)."""
    created: dict[str, Any] = data_of(client.post(f"{API}{path}", json=body, headers=auth(key)), 201)
    return created


def fetch(client: FlaskClient, path: str, key: str = ACME_FULL) -> dict[str, Any]:
    """GET one record (asserting 200)."""
    record: dict[str, Any] = data_of(client.get(f"{API}{path}", headers=auth(key)))
    return record


def fetch_all(client: FlaskClient, path: str, key: str = ACME_FULL, **params: Any) -> list[dict[str, Any]]:
    """Every record of a list operation, walking its pages 100 at a time."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        response = client.get(f"{API}{path}", query_string={**params, "limit": 100, "page": page}, headers=auth(key))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        rows.extend(body["data"])
        if page >= body["meta"]["last_page"]:
            return rows
        page += 1


def spec_parameter(app: Flask, name: str) -> dict[str, Any]:
    """A reusable parameter of the raw spec (``components.parameters.<name>``)."""
    parameter: dict[str, Any] = app.extensions["sandbox"]["index"].document["components"]["parameters"][name]
    return parameter


def spec_schema(app: Flask, name: str) -> dict[str, Any]:
    """A schema of the raw spec (``components.schemas.<name>``)."""
    schema: dict[str, Any] = app.extensions["sandbox"]["index"].document["components"]["schemas"][name]
    return schema


def line(name: str = "Consulting", quantity: float = 2, price: int = 15000, **extra: Any) -> dict[str, Any]:
    """A line item as a client writes it."""
    return {"name": name, "quantity": quantity, "price": price, **extra}


def invoice_body(**overrides: Any) -> dict[str, Any]:
    """A valid invoice create body for customer 1 (override any field)."""
    return {
        "invoice_date": "2026-06-01",
        "due_date": "2026-07-01",
        "customer_id": 1,
        "items": [line()],
        **overrides,
    }


def estimate_body(**overrides: Any) -> dict[str, Any]:
    """A valid estimate create body for customer 1 (override any field)."""
    return {
        "estimate_date": "2026-06-01",
        "expiry_date": "2026-07-01",
        "customer_id": 1,
        "items": [line()],
        **overrides,
    }


@dataclass(frozen=True)
class Writable:
    """A CRUD resource: its collection, the smallest valid create body, and one field to PATCH."""

    path: str
    minimal: dict[str, Any]
    patch: dict[str, Any]
    default: Any = None
    hidden: frozenset[str] = field(default_factory=frozenset)

    def body(self) -> dict[str, Any]:
        """A fresh copy of the minimal create body."""
        return copy.deepcopy(self.minimal)

    @property
    def name(self) -> str:
        """The test id: the collection name."""
        return self.path.strip("/")


# The minimal bodies hold exactly the spec's required, writable fields of each resource.
WRITABLE = (
    Writable("/customers", {"name": "Jane Roe"}, {"email": "jane.roe@example.com"}),
    Writable(
        "/invoices",
        {"invoice_date": "2026-06-01", "customer_id": 1, "items": [line()]},
        {"notes": "Payable within 30 days."},
    ),
    Writable(
        "/estimates",
        {"estimate_date": "2026-06-01", "customer_id": 1, "items": [line("Discovery workshop", 1, 90000)]},
        {"expiry_date": "2026-07-01"},
    ),
    Writable(
        "/payments",
        {"payment_date": "2026-06-10", "amount": 12500, "customer_id": 1},
        {"notes": "Wire transfer"},
    ),
    Writable(
        "/expenses",
        {"expense_date": "2026-06-10", "expense_category_id": 2, "amount": 4200, "currency_id": 1},
        {"notes": "Taxi to the client's office"},
    ),
    Writable("/items", {"name": "Logo design", "price": 25000}, {"description": "Vector logo in three sizes"}),
    Writable("/projects", {"name": "Mobile app", "customer_id": 1}, {"budget": 250000}),
    Writable(
        "/tickets",
        {
            "subject": "Cannot log in",
            "message": "The password reset e-mail never arrives.",
            "customer_id": 1,
            "department_id": 1,
        },
        {"priority": "URGENT"},
        default="MEDIUM",
    ),
    Writable("/leads", {"first_name": "Ada", "last_name": "Lovelace"}, {"company": "Analytical Engines Ltd"}),
    Writable(
        "/users",
        {"name": "Grace Hopper", "email": "grace.hopper@acme.example.com", "role": "accountant"},
        {"role": "viewer"},
        hidden=frozenset({"password"}),
    ),
    Writable(
        "/webhooks",
        {"url": "http://127.0.0.1:9/crm", "events": ["invoice.created"]},
        {"description": "CRM sync"},
        hidden=frozenset({"secret"}),
    ),
)

# Collections only listed (and, for expense categories, created): reference data from fixtures.
REFERENCE_LISTS = (
    "/currencies",
    "/units",
    "/payment-methods",
    "/departments",
    "/accounts",
    "/expense-categories",
)

# Every list operation that takes page/limit, for checks that apply to all of them.
LIST_PATHS = (
    *(w.path for w in WRITABLE),
    "/transactions",
    *REFERENCE_LISTS,
)
