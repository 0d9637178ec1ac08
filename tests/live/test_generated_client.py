"""A Python client generated from the served spec works as is: the README quick start, typed, errors included.

openapi-python-client generates the client from a running sandbox's /openapi.json, with no warning; the
test imports it and runs the quick start through it: list, create a customer, create an invoice, read it
back, download its PDF, and get a 409 and a 422 back as the typed ``Error`` and ``ValidationError`` models.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import requests
from conftest import ACME_FULL, ROOT, TODAY, LiveServer

pytestmark = pytest.mark.live
pytest.importorskip("openapi_python_client", reason="openapi-python-client is a dev dependency: install '.[dev]'")

PACKAGE = "invoicing_api_client"
CONFIG = ROOT / "clients" / "openapi-python-client.yaml"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    server = LiveServer("--strict", "--seed", "1", "--today", TODAY, "--rate-limit", "1000000")
    yield server.base
    server.stop()


@pytest.fixture(scope="module")
def generated(sandbox: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, str]]:
    """The client package generated from the sandbox's served spec, imported, and what the generator printed."""
    where = tmp_path_factory.mktemp("client")
    spec = where / "openapi.json"
    spec.write_bytes(requests.get(f"{sandbox}/openapi.json", timeout=10).content)
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec)]
    command += ["--config", str(CONFIG), "--meta", "none", "--output-path", str(where / PACKAGE)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    printed = run.stdout + run.stderr
    assert run.returncode == 0, printed
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE), printed
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_the_client_is_generated_from_the_served_spec_without_a_warning(generated: tuple[ModuleType, str]) -> None:
    _, printed = generated
    assert "warning" not in printed.lower(), printed
    assert "Unable to" not in printed, printed


def _required(model: type) -> set[str]:
    """The members a generated model cannot be built without (no default: not ``Unset``)."""
    parameters = inspect.signature(model).parameters.values()
    return {p.name for p in parameters if p.default is inspect.Parameter.empty}


def test_responses_are_typed_whole_and_requests_ask_only_what_a_client_must_send(
    generated: tuple[ModuleType, str],
) -> None:
    package, _ = generated
    models = _module(package, "models")
    assert {"id", "invoice_number", "status", "total", "due_amount", "items", "created_at"} <= _required(models.Invoice)
    assert _required(models.InvoiceCreate) == {"invoice_date", "customer_id", "items"}
    assert _required(models.InvoiceUpdate) == set()
    assert _required(models.LineItem) == {"name", "quantity", "price"}
    assert _required(models.Customer) >= {"id", "name", "company_id", "created_at", "updated_at"}
    assert _required(models.CustomerCreate) == {"name"}
    assert _required(models.ValidationError) == {"error", "message", "request_id", "errors"}
    assert models.ListInvoicesSort.INVOICE_DATE_DESC == "-invoice_date"
    assert models.ListInvoicesSort.INVOICE_DATE_ASC == "invoice_date"


def test_the_readme_quick_start_runs_through_the_generated_client(
    generated: tuple[ModuleType, str], sandbox: str
) -> None:
    package, _ = generated
    models = _module(package, "models")
    with package.Client(base_url=f"{sandbox}/api/v1") as anonymous:
        health = _module(package, "api.health.get_health").sync(client=anonymous)
    assert isinstance(health, models.Health)
    with package.AuthenticatedClient(f"{sandbox}/api/v1", token=ACME_FULL, raise_on_unexpected_status=True) as client:
        _quick_start(package, models, client)


def _quick_start(package: ModuleType, models: Any, client: Any) -> None:
    """The README's quick start: read, list, create a customer and an invoice, read it back, its PDF."""

    john = _module(package, "api.customers.get_customer").sync(1, client=client)
    assert isinstance(john, models.CustomerResponse)
    assert isinstance(john.data, models.Customer)
    assert john.data.name == "John Doe"

    page = _module(package, "api.invoices.list_invoices").sync(
        client=client, status=models.ListInvoicesStatus.SENT, sort=models.ListInvoicesSort.INVOICE_DATE_DESC, limit=5
    )
    assert isinstance(page, models.InvoiceList)
    assert 0 < len(page.data) <= 5
    assert all(isinstance(row, models.Invoice) and row.status == "SENT" for row in page.data)
    dates = [row.invoice_date for row in page.data]
    assert all(isinstance(day, dt.date) for day in dates)
    assert dates == sorted(dates, reverse=True)
    assert page.meta.per_page == 5

    customer = _module(package, "api.customers.create_customer").sync(
        client=client, body=models.CustomerCreate(name="Ada Lovelace", email="ada@example.com")
    )
    assert isinstance(customer, models.CustomerResponse)
    assert isinstance(customer.data.id, int)
    assert customer.data.name == "Ada Lovelace"
    assert isinstance(customer.data.created_at, dt.datetime)

    body = models.InvoiceCreate(  # the README's create body, addressed to the new customer
        customer_id=customer.data.id,
        invoice_date=dt.date(2026, 11, 21),
        due_date=dt.date(2026, 12, 21),
        items=[models.LineItem(name="Web Development", quantity=10, price=15000, tax_rate=10)],
    )
    created = _module(package, "api.invoices.create_invoice").sync(client=client, body=body)
    assert isinstance(created, models.InvoiceResponse)
    invoice = created.data
    assert (invoice.status, invoice.paid_status) == ("DRAFT", "UNPAID")
    assert invoice.invoice_number.startswith("INV-")
    assert (invoice.sub_total, invoice.tax, invoice.total, invoice.due_amount) == (150000, 15000, 165000, 165000)
    assert isinstance(invoice.items[0].id, int)
    assert invoice.items[0].total == 150000

    read = _module(package, "api.invoices.get_invoice").sync(invoice.id, client=client)
    assert isinstance(read, models.InvoiceResponse)
    assert read.data.to_dict() == invoice.to_dict()

    pdf = _module(package, "api.invoices.get_invoice_pdf").sync_detailed(invoice.id, client=client)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


def test_errors_come_back_as_the_typed_error_models(generated: tuple[ModuleType, str], sandbox: str) -> None:
    package, _ = generated
    models = _module(package, "models")
    with package.AuthenticatedClient(base_url=f"{sandbox}/api/v1", token=ACME_FULL) as client:
        _typed_errors(package, models, client)


def _typed_errors(package: ModuleType, models: Any, client: Any) -> None:
    """A 409, a 422 and a 404, each parsed as the error model its response declares."""
    conflict = _module(package, "api.invoices.send_invoice").sync_detailed(1, client=client)  # already SENT
    assert conflict.status_code == 409
    assert isinstance(conflict.parsed, models.Error)
    assert conflict.parsed.error == "conflict"
    assert "status" in conflict.parsed.message
    assert conflict.parsed.request_id == conflict.headers["X-Request-Id"]

    refused = _module(package, "api.invoices.create_invoice").sync_detailed(
        client=client,
        body=models.InvoiceCreate(
            customer_id=999_999,
            invoice_date=dt.date(2026, 11, 21),
            items=[models.LineItem(name="Consulting", quantity=1, price=1000)],
        ),
    )
    assert refused.status_code == 422
    assert isinstance(refused.parsed, models.ValidationError)
    assert refused.parsed.error == "validation_failed"
    assert list(refused.parsed.errors.additional_properties) == ["customer_id"]
    assert all(isinstance(message, str) for message in refused.parsed.errors["customer_id"])

    unknown = _module(package, "api.customers.get_customer").sync_detailed(999_999, client=client)
    assert unknown.status_code == 404
    assert isinstance(unknown.parsed, models.Error)
    assert unknown.parsed.error == "not_found"
