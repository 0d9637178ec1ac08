"""The idempotency suite: read from the spec, passes on the sandbox, catches each idempotency defect by its check alone,
and says why it skips what a target lacks (no Idempotency-Key in the spec, no key of another company).

The unmodified sandbox and the five idempotency variants run side by side (each has its own sandbox and meter):
the racy variant stores its answers a second late on purpose, so it is the slowest.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import yaml_text
from faulty import VARIANTS, Variant, checks_by_name, serve, variants_of

from contracts import Keys, Outcome, Report, Target, builtin, run, spec_document
from contracts import idempotency as idem
from contracts.idempotency.spec import idempotent_operations, key_header, refusal_statuses, subjects
from contracts.report import failures_text
from contracts.security.resources import find_resources
from contracts.security.spec_view import Spec
from contracts.target import SANDBOX_KEYS

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
IDEMPOTENCY_VARIANTS = variants_of("idempotency")
CHECK_OF_RULE = {
    idem.REPLAY: "idempotency/replay",
    idem.REPLAYED_HEADER: "idempotency/replay",
    idem.MISMATCH: "idempotency/mismatch",
    idem.CONCURRENCY: "idempotency/concurrency",
    idem.PER_COMPANY: "idempotency/per company",
}
NO_OTHER = "ok, no other company"


def idempotency_target(base_url: str, spec: Path = SPEC, keys: Keys | None = None) -> Target:
    return Target(base_url, spec, keys=keys or Keys(**SANDBOX_KEYS), suites=("idempotency",), seed=1)


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    """The suite against the unmodified sandbox (with and without another company's key) and each variant."""

    def one(name: str) -> dict[str, Report]:
        if name == "ok":
            with serve() as base_url:
                done = {"ok": run(idempotency_target(base_url))}
                full_only = Keys(full=SANDBOX_KEYS["full"])
                done[NO_OTHER] = run(idempotency_target(base_url, keys=full_only))
                return done
        variant: Variant = VARIANTS[name]
        with serve(variant) as base_url:
            return {name: run(idempotency_target(base_url))}

    names = ["ok", *IDEMPOTENCY_VARIANTS]
    with ThreadPoolExecutor(len(names), thread_name_prefix="idempotency-suite") as pool:
        return {name: report for found in pool.map(one, names) for name, report in found.items()}


def test_there_is_a_variant_for_every_rule() -> None:
    assert {VARIANTS[name].rule for name in IDEMPOTENCY_VARIANTS} == set(idem.RULES)


def test_the_unmodified_sandbox_passes_every_check(reports: dict[str, Report]) -> None:
    report = reports["ok"]
    assert report.ok, failures_text(report)
    checks = checks_by_name(report)
    assert sorted(checks) == sorted(set(CHECK_OF_RULE.values()))
    assert all(check.outcome is Outcome.PASSED for check in checks.values())
    assert "create operation(s) checked" in checks["idempotency/replay"].reason
    assert "counted by search" in checks["idempotency/concurrency"].reason
    run_of = report.run_of("idempotency")
    assert run_of is not None
    assert run_of.requests.made == run_of.requests.answered > 0


@pytest.mark.parametrize("name", IDEMPOTENCY_VARIANTS)
def test_each_defect_is_caught_by_its_check_alone(name: str, reports: dict[str, Report]) -> None:
    variant, report = VARIANTS[name], reports[name]
    assert not report.ok, f"{name} ({variant.defect}) went unnoticed"
    assert report.broken_rules() == set(variant.rules), failures_text(report)[:4000]
    failed = [check.name for check in report.checks if check.outcome is Outcome.FAILED]
    assert failed == [CHECK_OF_RULE[variant.rule]], failures_text(report)[:4000]
    assert all(check.outcome is Outcome.PASSED for check in report.checks if check.name not in failed)


def test_failures_reproduce_with_the_key_header_and_no_secret(reports: dict[str, Report]) -> None:
    [check] = [c for c in reports["idempotency_shared_keys"].checks if c.outcome is Outcome.FAILED]
    failure = check.failures[0]
    assert "Idempotency-Key: contracts-" in failure.reproduction
    assert "${CONTRACTS_KEY_OTHER}" in failure.reproduction
    assert SANDBOX_KEYS["other"] not in failure.reproduction


def test_without_another_company_only_that_check_is_skipped(reports: dict[str, Report]) -> None:
    report = reports[NO_OTHER]
    assert report.ok, failures_text(report)
    checks = checks_by_name(report)
    skipped = checks.pop("idempotency/per company")
    assert skipped.outcome is Outcome.SKIPPED
    assert skipped.reason == "needs a key of another company (--key other=...)"
    assert all(check.outcome is Outcome.PASSED for check in checks.values())


def test_the_key_header_is_read_from_the_spec_whatever_its_casing(tmp_path: Path) -> None:
    spec = Spec.load(SPEC)
    ops = idempotent_operations(spec)
    ids = {op.operation_id for op in ops}
    assert {"createCustomer", "updateInvoice", "replaceItem", "createOAuthToken"} <= ids
    assert all(op.method in ("POST", "PUT", "PATCH") for op in ops)
    assert all(refusal_statuses(op) == (422,) for op in ops)  # each documents 422: a reused key is refused so
    document: dict[str, Any] = spec_document.read(SPEC)
    document["components"]["parameters"]["IdempotencyKey"]["name"] = "idempotency-KEY"
    lowered = Spec(document)
    create = next(op for op in lowered.operations if op.operation_id == "createCustomer")
    assert key_header(create) == "idempotency-KEY"
    found = subjects(find_resources(lowered))
    assert "/customers" in {subject.resource.collection for subject in found}
    assert not found[0].references
    assert found[0].searchable


def test_a_spec_without_the_header_skips_the_suite_with_the_reason(tmp_path: Path) -> None:
    document: dict[str, Any] = spec_document.read(SPEC)
    document["components"]["parameters"]["IdempotencyKey"] = {
        "name": "X-Trace",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
    }
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml_text(document), encoding="utf-8")
    target = idempotency_target("http://127.0.0.1:9/api/v1", spec)
    [check] = list(idem.run(target))  # no request is sent: nothing to check
    assert check.outcome is Outcome.SKIPPED
    assert "no Idempotency-Key header" in check.reason
    assert target.meter.counts().made == 0


def test_it_runs_by_default_and_by_name() -> None:
    registry = builtin.suites()
    assert "idempotency" in registry.defaults()
    assert registry.choose(None)[-1] == "idempotency"
    assert registry.choose(["idempotency"]) == ("idempotency",)
