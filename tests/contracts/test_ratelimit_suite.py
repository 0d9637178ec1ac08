"""The rate-limit suite: passes on a sandbox with a small limit and a 2 s window, catches each rate-limit defect by
its check alone, skips what it cannot test without spending a large budget (saying how to make it testable), reads
every header form, and plugs into ``contracts run`` through the registry alone (names, defaults, options).

Sandboxes run with ``rate_limit=10, rate_window_seconds=2`` (``faulty.SHORT_WINDOW``) side by side; no assertion
depends on timing: the suite waits for the reset each 429 announces.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import yaml_text
from faulty import SHORT_WINDOW, VARIANTS, Variant, checks_by_name, serve, settings, variants_of

from contracts import Keys, Outcome, Report, Target, builtin, run, spec_document
from contracts import ratelimit as rl
from contracts.cli import configured_target, main, parser
from contracts.http import Client
from contracts.ratelimit.headers import IETF_FAMILY, X_FAMILY, Reading, read, retry_after
from contracts.ratelimit.spec import documented, probes
from contracts.report import failures_text
from contracts.results import CheckResult
from contracts.security.spec_view import Spec
from contracts.suites import Entry, Registry, option
from contracts.target import SANDBOX_KEYS

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
RATELIMIT_VARIANTS = variants_of("ratelimit")
CHECK_OF_RULE = {
    rl.REMAINING: "ratelimit/remaining",
    rl.LIMITED_RULE: "ratelimit/limited",
    rl.RETRY_AFTER: "ratelimit/limited",
    rl.ERROR_SHAPE: "ratelimit/limited",
    rl.RESET: "ratelimit/reset",
}
LARGE = "ok, limit 1000 per hour"


def ratelimit_target(base_url: str, spec: Path = SPEC) -> Target:
    return Target(base_url, spec, keys=Keys(**SANDBOX_KEYS), suites=("ratelimit",), seed=1)


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    """The suite against the sandbox with a small limit ("ok"), a large one, and each rate-limit variant."""
    small = dataclasses.replace(settings(), **dict(SHORT_WINDOW))
    large = dataclasses.replace(settings(), rate_limit=1000)

    def one(name: str) -> Report:
        variant: Variant | None = VARIANTS.get(name)
        config = {"ok": small, LARGE: large}.get(name)
        with serve(variant, config) as base_url:
            return run(ratelimit_target(base_url))

    names = ["ok", LARGE, *RATELIMIT_VARIANTS]
    with ThreadPoolExecutor(len(names), thread_name_prefix="ratelimit-suite") as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


@pytest.mark.live
def test_the_variants_cover_a_count_that_never_falls_a_429_without_retry_after_and_no_reset() -> None:
    assert {VARIANTS[name].rule for name in RATELIMIT_VARIANTS} == {rl.REMAINING, rl.RETRY_AFTER, rl.RESET}


@pytest.mark.live
def test_a_small_limit_is_counted_enforced_and_reset(reports: dict[str, Report]) -> None:
    report = reports["ok"]
    assert report.ok, failures_text(report)
    checks = checks_by_name(report)
    assert list(checks) == ["ratelimit/remaining", "ratelimit/limited", "ratelimit/reset"]
    assert all(check.outcome is Outcome.PASSED for check in checks.values())
    assert "the readonly key on GET /me" in checks["ratelimit/remaining"].reason
    assert checks["ratelimit/limited"].reason.startswith("429 after ")
    assert checks["ratelimit/reset"].reason.startswith("budget back ")
    suite_run = report.run_of("ratelimit")
    assert suite_run is not None
    assert suite_run.requests.rate_limited >= 1


@pytest.mark.live
def test_a_large_limit_is_not_spent_and_the_reason_says_how_to_test_it(reports: dict[str, Report]) -> None:
    report = reports[LARGE]
    assert report.ok, failures_text(report)
    checks = checks_by_name(report)
    assert checks["ratelimit/remaining"].outcome is Outcome.PASSED
    limited, reset = checks["ratelimit/limited"], checks["ratelimit/reset"]
    assert limited.outcome is reset.outcome is Outcome.SKIPPED
    assert "limit 1000" in limited.reason
    assert "--ratelimit-budget 300" in limited.reason
    assert "mockserver --rate-limit" in limited.reason
    assert reset.reason.startswith("needs the limit reached first")
    suite_run = report.run_of("ratelimit")
    assert suite_run is not None
    assert suite_run.requests.rate_limited == 0


@pytest.mark.live
@pytest.mark.parametrize("name", RATELIMIT_VARIANTS)
def test_each_defect_is_caught_by_its_check_alone(name: str, reports: dict[str, Report]) -> None:
    variant, report = VARIANTS[name], reports[name]
    assert not report.ok, f"{name} ({variant.defect}) went unnoticed"
    assert report.broken_rules() == set(variant.rules), failures_text(report)[:4000]
    failed = [check.name for check in report.checks if check.outcome is Outcome.FAILED]
    assert failed == [CHECK_OF_RULE[variant.rule]], failures_text(report)[:4000]
    assert not [check for check in report.checks if check.outcome is Outcome.ERROR]


@pytest.mark.live
def test_a_finding_about_a_429_is_a_failure_with_a_reproduction(reports: dict[str, Report]) -> None:
    [check] = [c for c in reports["ratelimit_no_retry_after"].checks if c.outcome is Outcome.FAILED]
    [failure] = check.failures
    assert failure.rule == rl.RETRY_AFTER
    assert failure.response.startswith("HTTP 429")
    assert "${CONTRACTS_KEY_READONLY}" in failure.reproduction


@pytest.mark.live
def test_the_cli_takes_the_suite_by_name_with_its_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    with serve(config=dataclasses.replace(settings(), **dict(SHORT_WINDOW))) as base_url:
        code = main(
            ["run", "--base-url", base_url, "--suite", "ratelimit", "--ratelimit-wait", "0.5", "--json", str(out)]
        )
    assert code == 0, capsys.readouterr().out[-3000:]
    checks = {check["name"]: check for check in json.loads(out.read_text(encoding="utf-8"))["checks"]}
    assert checks["ratelimit/remaining"]["outcome"] == "passed"
    assert checks["ratelimit/limited"]["outcome"] == "skipped"
    assert "more than --ratelimit-wait 0.5" in checks["ratelimit/limited"]["reason"]


RATE_LIMIT_HEADERS = {
    *("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit", "RateLimit-Policy"),
    *("XRateLimitLimit", "XRateLimitRemaining", "XRateLimitReset", "RateLimitPolicy"),  # their components
}


def without_rate_limit_headers(node: Any) -> Any:
    """A copy of a spec node with every rate-limit header (and its component) taken out."""
    if isinstance(node, dict):
        return {k: without_rate_limit_headers(v) for k, v in node.items() if k not in RATE_LIMIT_HEADERS}
    if isinstance(node, list):
        return [without_rate_limit_headers(v) for v in node]
    return node


def test_a_spec_without_rate_limit_headers_skips_the_suite(tmp_path: Path) -> None:
    document = without_rate_limit_headers(spec_document.read(SPEC))
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml_text(document), encoding="utf-8")
    assert documented(Spec.load(spec)) == []
    target = ratelimit_target("http://127.0.0.1:9/api/v1", spec)
    [check] = list(rl.run(target))
    assert check.outcome is Outcome.SKIPPED
    assert "documents none of X-RateLimit-Limit" in check.reason
    assert target.meter.counts().made == 0


def test_the_spec_names_the_headers_and_a_cheap_get() -> None:
    spec = Spec.load(SPEC)
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(documented(spec))
    best = probes(spec)[0]
    assert (best.op.method, best.op.path) == ("GET", "/me")
    assert best.families[0] == X_FAMILY
    assert best.remaining_headers[X_FAMILY] == "X-RateLimit-Remaining"
    assert best.documents_retry_after
    media, schema = best.error_schema()
    assert media == ["application/json"]
    assert schema is not None


NOW = 1_800_000_000.0


BOTH = {
    "X-RateLimit-Limit": "10",
    "X-RateLimit-Remaining": "9",
    "X-RateLimit-Reset": "2",
    "RateLimit-Policy": '"default";q=100;w=60',
    "RateLimit": '"default";r=50;t=30',
}


@pytest.mark.parametrize(
    ("headers", "family", "expected"),
    [
        (BOTH, X_FAMILY, Reading(10, 9, 2.0)),
        (BOTH, IETF_FAMILY, Reading(100, 50, 30.0)),  # each family read on its own
        ({"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999", "x-ratelimit-reset": str(int(NOW) + 60)},
         X_FAMILY, Reading(5000, 4999, 60.0)),  # GitHub: the reset is a Unix time
        ({"RateLimit-Limit": "100, 100;w=60", "RateLimit-Remaining": "50", "RateLimit-Reset": "30"},
         IETF_FAMILY, Reading(100, 50, 30.0)),
        ({"RateLimit": "limit=100, remaining=50, reset=30"}, IETF_FAMILY, Reading(100, 50, 30.0)),
        ({"Content-Type": "application/json"}, X_FAMILY, Reading()),
        ({"X-RateLimit-Remaining": "many"}, X_FAMILY, Reading()),
    ],
    ids=["x-ratelimit", "ietf structured", "epoch reset", "ietf fields", "ietf combined (draft 06)", "none", "junk"],
)  # fmt: skip
def test_every_header_form_is_read(headers: dict[str, str], family: str, expected: Reading) -> None:
    assert read(headers, NOW, family) == expected


def test_a_reading_knows_when_it_may_be_a_new_window() -> None:
    assert Reading(10, 9, 1.0).fresh()
    assert Reading(10, 10, 1.0).fresh()
    assert Reading(None, 3, 1.0).fresh()
    assert not Reading(10, 8, 1.0).fresh()


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = dt.datetime(2026, 6, 15, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after({"Retry-After": "120"}, now) == 120.0
    assert retry_after({"retry-after": "Mon, 15 Jun 2026 12:00:30 GMT"}, now) == 30.0
    assert retry_after({"Retry-After": "soon"}, now) is None
    assert retry_after({}, now) is None


# --- the registry: names, defaults and options come from the suites themselves --------------------------


def test_the_registry_lists_both_suites_and_keeps_rate_limits_out_of_the_defaults() -> None:
    registry = builtin.suites()
    names = registry.names()
    assert names[:5] == ["conformance", "stateful", "rules", "security", "webhooks"]
    assert names[-2:] == ["idempotency", "ratelimit"]
    assert registry.defaults() == ["conformance", "stateful", "rules", "security", "idempotency"]
    with pytest.raises(ValueError, match="unknown suite"):
        registry.choose(["ratelimits"])


def test_the_cli_lists_the_suites_and_options_of_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: conformance,stateful,rules,security,idempotency; also: webhooks,ratelimit" in text
    assert "--ratelimit-budget N" in text
    assert "(default: 300)" in text
    assert "--ratelimit-wait SECONDS" in text
    assert "(default: 65)" in text


@pytest.mark.parametrize(
    "flags",
    [["--suite", "nope"], ["--ratelimit-budget", "0"], ["--ratelimit-budget", "2.5"], ["--ratelimit-wait", "x"]],
)
def test_bad_names_and_options_are_usage_errors(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--base-url", "http://127.0.0.1:9/api/v1", *flags]) == 2
    assert capsys.readouterr().err.startswith("contracts: ")


def test_the_config_file_names_new_suites_and_options_flags_win(tmp_path: Path) -> None:
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[target]\nbase_url = "http://127.0.0.1:9/api/v1"\nsuites = ["idempotency", "ratelimit"]\n'
        "ratelimit_budget = 40\nratelimit_wait = 5\n",
        encoding="utf-8",
    )
    target = configured_target(parser().parse_args(["run", "--config", str(config), "--ratelimit-wait", "9"]))
    assert target.suites == ("idempotency", "ratelimit")
    assert option(target, rl.BUDGET) == 40
    assert option(target, rl.WAIT) == 9.0
    plain = configured_target(parser().parse_args(["run", "--base-url", "http://127.0.0.1:9/api/v1"]))
    assert plain.suites == tuple(builtin.suites().defaults())
    assert option(plain, rl.BUDGET) == 300


@pytest.fixture
def with_extra() -> Registry:
    """The built-in suites and one more, in a registry of this test's own: it calls GET /me once."""

    def extra(target: Target) -> Iterator[CheckResult]:
        response = Client(target).call("GET", "/me")
        yield CheckResult("extra", "extra/me", Outcome.PASSED if response.ok else Outcome.FAILED)

    registry = builtin.suites()
    registry.add(Entry("extra", extra, default=False))
    return registry


@pytest.mark.live
def test_a_suite_plugs_in_by_registering_alone(with_extra: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert "extra" in with_extra.names()
    assert "extra" not in with_extra.defaults()
    assert "extra" not in builtin.suites().names()  # the registry is the test's own, not the process's
    with serve() as base_url:
        code = main(["run", "--base-url", base_url, "--suite", "extra"], with_extra)
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert "OK (exit 0): every check held (1 passed, 0 skipped; 1 of 1 requests answered)" in out
