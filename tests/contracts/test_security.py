"""The security suite: derived from the spec, passes on the sandbox, skips what a target lacks, reproduces failures."""

from __future__ import annotations

import csv
import io
import random
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from faulty import API, VARIANTS, Middleware, json_of, serve, serve_spec, write_spec
from werkzeug.wrappers import Request, Response

from contracts import Keys, Outcome, Report, Target, run, spec_document
from contracts import security as sec
from contracts.checking import Skip
from contracts.report import failures_text
from contracts.security import reports, searches, tenancy
from contracts.target import SANDBOX_KEYS

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
PETSTORE = ROOT / "examples" / "petstore" / "openapi.yaml"
CHECKS = {f"security/{name}" for name, _, _ in sec.CHECKS}


def security_target(base_url: str, keys: Keys | None = None, seed: int = 1) -> Target:
    return Target(base_url, SPEC, keys=keys or Keys(**SANDBOX_KEYS), suites=("security",), seed=seed)


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with serve() as base_url:
        yield base_url


# --- derived from the spec ------------------------------------------------------------------------------


def test_resources_come_from_the_spec_paths() -> None:
    spec = sec.Spec.load(SPEC)
    resources = sec.find_resources(spec)
    creatable = {path for path, res in resources.items() if res.create is not None}
    document = spec_document.read(SPEC)
    expected = {
        path
        for path, item in document["paths"].items()
        if "{" not in path
        and "post" in item
        and "201" in item["post"]["responses"]
        and item["post"].get("security") != []
    } - {"/batch/customers"}  # creates a list, not one record
    assert creatable == expected
    invoices = resources["/invoices"]
    assert invoices.item == "/invoices/{id}"
    assert {op.operation_id for op in invoices.item_ops} >= {"sendInvoice", "getInvoicePdf", "deleteInvoice"}


def test_another_spec_is_understood_too() -> None:
    resources = sec.find_resources(sec.Spec.load(PETSTORE))
    assert resources
    assert any(res.item_ops for res in resources.values())


def test_references_follow_the_spec() -> None:
    resources = sec.find_resources(sec.Spec.load(SPEC))
    payment = resources["/payments"].create_schema["properties"]
    assert sec.ref_target("customer_id", sec.flatten(payment["customer_id"]), resources) == "/customers"
    assert (
        sec.ref_target("payment_method_id", sec.flatten(payment["payment_method_id"]), resources) == "/payment-methods"
    )
    assert sec.ref_target("amount", sec.flatten(payment["amount"]), resources) is None
    expense = resources["/expenses"].create_schema["properties"]
    assert sec.ref_target("expense_category_id", sec.flatten(expense["expense_category_id"]), resources) == (
        "/expense-categories"
    )


def test_write_only_fields_are_read_from_the_schemas() -> None:
    spec = sec.Spec.load(SPEC)
    resources = sec.find_resources(spec)
    assert sec.write_only_fields(resources["/users"]) == {"password"}
    webhooks = resources["/webhooks"]
    assert sec.write_only_fields(webhooks) == {"secret"}
    assert webhooks.create is not None
    assert webhooks.get is not None
    assert sec.forbidden_fields(webhooks.create, 201, webhooks) == set()  # the one-time secret is declared
    assert sec.forbidden_fields(webhooks.get, 200, webhooks) == {"secret"}


def test_wrong_values_differ_from_the_server_and_stay_valid() -> None:
    rng = random.Random(1)
    assert sec.wrong_value({"type": "integer", "minimum": 1, "readOnly": True}, 5, rng) != 5
    assert sec.wrong_value({"type": "string", "enum": ["DRAFT", "SENT"]}, "DRAFT", rng) == "SENT"
    assert sec.wrong_value({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00Z", rng) != (
        "2026-01-01T00:00:00Z"
    )
    assert sec.wrong_value({"type": "string", "pattern": "^INV-[0-9]{6}$"}, "INV-000001", rng) is None


def test_too_long_strings_keep_their_format() -> None:
    assert len(sec.too_long({"type": "string", "maxLength": 10}) or "") == 11
    email = sec.too_long({"type": "string", "format": "email", "maxLength": 255}) or ""
    assert len(email) == 256
    assert email.endswith("@example.com")
    url = sec.too_long({"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2048}) or ""
    assert len(url) == 2049
    assert url.startswith("https://")
    assert sec.too_long({"type": "string", "pattern": "^[A-Z]{2}$", "maxLength": 2}) is None


def test_the_marker_and_choices_follow_the_seed() -> None:
    target = security_target("http://127.0.0.1:9/api/v1")
    assert sec.Context(target).marker == sec.Context(target).marker
    assert sec.Context(target).marker != sec.Context(security_target(target.base_url, seed=2)).marker


def test_tenancy_covers_every_read_path_the_spec_has() -> None:
    """Each operation under a record falls under the tenancy rule its leak would break; searches and reports too."""
    context = sec.Context(security_target("http://127.0.0.1:9/api/v1"))
    rules = {op.operation_id: tenancy.rule_of(res, op) for res in context.resources.values() for op in res.item_ops}
    assert rules["getInvoice"] == rules["updateInvoice"] == rules["deleteInvoice"] == tenancy.BOLA
    assert rules["sendInvoice"] == rules["convertEstimate"] == rules["rotateWebhookSecret"] == tenancy.BOLA_ACTIONS
    assert rules["listProjectInvoices"] == rules["listWebhookDeliveries"] == tenancy.BOLA_NESTED
    assert rules["getInvoicePdf"] == rules["getEstimatePdf"] == tenancy.BOLA_DOCUMENTS
    # nothing created yet: every list with a search parameter is searched, and /search
    assert {op.operation_id for op in searches.searches(context)} >= {"search", "listCustomers", "listInvoices"}
    assert [op.operation_id for op in reports.reports(context)] == ["getFinancialReport"]


def test_report_numbers_leave_identifiers_out() -> None:
    body = {"data": {"company_id": 7, "income": 10, "period": {"year": 2026}, "ok": True, "currency": "USD"}}
    assert reports.numbers(body) == {"data.income": 10.0, "data.period.year": 2026.0}


# --- against a sandbox ----------------------------------------------------------------------------------


def outcomes(report: Report) -> dict[str, Outcome]:
    return {check.name: check.outcome for check in report.checks}


@pytest.mark.live
def test_the_sandbox_passes_every_security_check(sandbox_url: str) -> None:
    report = run(security_target(sandbox_url))
    assert set(outcomes(report)) == CHECKS
    assert report.ok, failures_text(report)
    assert all(outcome is Outcome.PASSED for outcome in outcomes(report).values())


@pytest.mark.live
def test_the_sandbox_is_searched_and_its_report_compared(sandbox_url: str) -> None:
    """The tenancy check could have seen a search or report leak on the sandbox: neither is named as unable to tell."""
    report = run(security_target(sandbox_url))
    bola = next(check for check in report.checks if check.name == "security/bola")
    assert bola.outcome is Outcome.PASSED, failures_text(report)
    assert "getFinancialReport" not in bola.reason
    assert not re.search(r"\bsearch\b", bola.reason)
    assert "listCustomers" not in bola.reason


@pytest.mark.live
def test_checks_needing_a_missing_role_are_skipped_with_the_reason(sandbox_url: str) -> None:
    report = run(security_target(sandbox_url, Keys(full=SANDBOX_KEYS["full"])))
    checks = {check.name: check for check in report.checks}
    assert report.ok
    assert checks["security/bola"].outcome is Outcome.SKIPPED
    assert checks["security/bola"].reason == "needs a key of another company (--key other=...)"
    assert checks["security/scopes"].outcome is Outcome.SKIPPED
    assert "--key readonly=" in checks["security/scopes"].reason
    assert checks["security/auth"].outcome is Outcome.PASSED
    assert "--key expired=" in checks["security/auth"].reason
    assert checks["security/limits"].outcome is Outcome.PASSED


@pytest.mark.live
def test_without_any_key_only_authentication_is_checked(sandbox_url: str) -> None:
    report = run(security_target(sandbox_url, Keys()))
    result = outcomes(report)
    assert result.pop("security/auth") is Outcome.PASSED
    assert set(result.values()) == {Outcome.SKIPPED}


@pytest.mark.live
def test_a_failure_carries_a_curl_reproduction_without_the_key() -> None:
    with serve(VARIANTS["bola_leak"]) as base_url:
        report = run(security_target(base_url))
    assert report.broken_rules() == {"security.bola"}
    failure = next(f for check in report.checks for f in check.failures)
    assert failure.reproduction.startswith("curl -X GET")
    assert "${CONTRACTS_KEY_OTHER}" in failure.reproduction
    assert SANDBOX_KEYS["other"] not in failure.reproduction
    assert failure.response.startswith("HTTP 200")


@pytest.mark.live
def test_the_same_seed_sends_the_same_requests() -> None:
    sent: list[list[str]] = []
    for _ in range(2):
        with serve(VARIANTS["limit_clamped"]) as base_url:
            report = run(security_target(base_url))
        sent.append([f.reproduction.replace(base_url, "") for check in report.checks for f in check.failures])
    assert sent[0]
    assert sent[0] == sent[1]


def test_an_unreachable_target_is_not_tested_never_broken() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = security_target(f"http://127.0.0.1:{port}/api/v1")
    report = run(target)  # the runner's first probe stops the run
    assert not report.ok
    assert report.verdict.code == 3
    assert report.checks == []
    assert report.unreachable.startswith(f"could not connect to http://127.0.0.1:{port}/api/v1")
    checks = list(sec.run(target))  # the suite on its own: errors (could not test), never failures
    assert {check.outcome for check in checks} <= {Outcome.ERROR, Outcome.SKIPPED}
    assert {check.name for check in checks if check.outcome is Outcome.ERROR} >= {"security/auth", "security/limits"}
    assert all("could not be reached" in f.message for check in checks for f in check.failures)


def test_a_spec_with_nothing_to_create_is_skipped_with_a_reason_not_an_empty_one(tmp_path: Path) -> None:
    """Stripe-, Docker- and Xero-shaped specs gave 'no record could be created with the full key: ' and nothing."""
    spec = tmp_path / "reads.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "openapi": "3.0.3",
                "info": {"title": "Reads only", "version": "1"},
                "paths": {"/things": {"get": {"responses": {"200": {"description": "Things."}}}}},
            }
        )
    )
    target = Target("http://127.0.0.1:9", spec, keys=Keys(**SANDBOX_KEYS), suites=("security",), seed=1)
    context = sec.fixtures.Context(target)
    with pytest.raises(Skip, match=r"the spec has no collection this suite can create in .+ among \d"):
        context.setup()


# --- exports: a collection-level rendering that is no JSON ---------------------------------------------

EXPORT = f"{API}/customers/export"


def with_export(folder: Path) -> Path:
    """openapi.yaml with ``GET /customers/export``: every customer of the caller's company as CSV."""
    document: dict[str, Any] = spec_document.read(SPEC)
    listing = document["paths"]["/customers"]["get"]
    document["paths"]["/customers/export"] = {
        "get": {
            "operationId": "exportCustomers",
            "summary": "Every customer of the company, as CSV.",
            "security": listing.get("security", document.get("security")),
            "responses": {
                "200": {
                    "description": "CSV, one customer a line.",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                "401": listing["responses"]["401"],
            },
        }
    }
    return write_spec(folder, document)


class CsvExport(Middleware):
    """``GET /customers/export`` as CSV of the caller's customers (and, when ``leaky``, of every company's)."""

    def __init__(self, app: Any, keys: list[str], leaky: bool) -> None:
        super().__init__(app)
        self.keys, self.leaky = keys, leaky

    def handle(self, request: Request, environ: Any) -> Response:
        if request.path != EXPORT:
            return self.forward(environ)
        mine = self.customers(environ)
        if not isinstance(mine, list):
            return mine
        rows = list(mine)
        for key in self.keys if self.leaky else []:
            theirs = self.customers({**environ, "HTTP_AUTHORIZATION": f"Bearer {key}"})
            rows += [row for row in theirs if row not in rows] if isinstance(theirs, list) else []
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerows([[row.get("id"), row.get("name"), row.get("email")] for row in rows])
        return Response(text.getvalue(), status=200, mimetype="text/csv")

    def customers(self, environ: Any) -> list[dict[str, Any]] | Response:
        """Every customer the request's key sees, or the refusal the list answered."""
        rows: list[dict[str, Any]] = []
        for page in range(1, 100):
            query = f"page={page}&limit=100"
            answer = self.forward({**environ, "PATH_INFO": f"{API}/customers", "QUERY_STRING": query})
            if answer.status_code != 200:
                return answer
            found = (json_of(answer) or {}).get("data") or []
            rows += found
            if not found:
                break
        return rows


@pytest.mark.live
@pytest.mark.parametrize("leaky", [False, True], ids=["own-company", "every-company"])
def test_an_export_showing_our_records_to_another_company_is_a_documents_leak(leaky: bool, tmp_path: Path) -> None:
    path = with_export(tmp_path)
    companies = [SANDBOX_KEYS["full"], SANDBOX_KEYS["other"]]  # a full key of each of the two companies
    with serve_spec(path, lambda app: CsvExport(app, companies, leaky), name="sandbox-export") as root:
        report = run(Target(root + API, path, keys=Keys(**SANDBOX_KEYS), suites=("security",), seed=1))
    failures = [f.message for check in report.checks for f in check.failures]
    if leaky:
        assert report.broken_rules() == {"security.bola.documents"}, failures
        assert "exportCustomers of another company showed our 'Contract" in failures[0]
    else:
        assert report.ok, failures_text(report)
