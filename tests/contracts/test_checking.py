"""One check interface across suites, and a harness that knows suites only through a registry.

Every suite reports through ``contracts.checking`` (one ``Findings``, one ``Skip``, one shared ``Context``), and
the modules that run and report (CLI, runner, report, verdict) hold no suite's name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from contracts import builtin, checking
from contracts.results import RATE_LIMITED, Failure
from contracts.rules import common as rules_common
from contracts.rules import context as rules_context
from contracts.security import fixtures
from contracts.suites import Entry, Registry
from contracts.target import Keys, Target
from contracts.webhooks import judge

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
GENERIC = ("cli", "runner", "report", "verdict", "progress", "results", "runinfo", "suites", "meter")


def test_a_check_keeps_its_first_failures_and_counts_the_rest_under_its_rule() -> None:
    found = checking.Findings("security.bola", limit=2)
    for n in range(5):
        found.add("security.bola_documents" if n == 4 else "", f"leak {n}")
    assert [(f.rule, f.message) for f in found.failures] == [
        ("security.bola", "leak 0"),
        ("security.bola", "leak 1"),
        ("security.bola", "... and 3 more failure(s) of this rule"),
    ]


def test_a_cap_per_rule_counts_what_it_left_out_per_rule() -> None:
    found = judge.findings()
    for n in range(judge.MAX_PER_RULE + 2):
        found.keep(Failure("webhooks.payload", f"bad body {n}"))
    found.keep(Failure("webhooks.headers", "no signature"))
    rules = [failure.rule for failure in found.failures]
    assert rules.count("webhooks.payload") == judge.MAX_PER_RULE + 1
    assert found.failures[-1] == Failure("webhooks.payload", "... and 2 more failure(s) of this rule")
    assert "webhooks.headers" in rules


def test_findings_left_out_after_only_429s_are_taken_for_429s() -> None:
    found = checking.Findings("security.limits", limit=1)
    found.keep(Failure("security.limits", "answered 429", status=RATE_LIMITED))
    found.keep(Failure("security.limits", "answered 429 again", status=RATE_LIMITED))
    assert found.failures[-1].status == RATE_LIMITED
    mixed = checking.Findings("security.limits", limit=1)
    mixed.keep(Failure("security.limits", "answered 500", status=500))
    mixed.keep(Failure("security.limits", "answered 429", status=RATE_LIMITED))
    assert mixed.failures[-1].status is None


def test_without_a_tally_a_capped_check_shows_its_first_failures_alone() -> None:
    found = checking.Findings("rules.totals", limit=1, tally=False)
    found.add("", "off by one")
    found.add("", "off by two")
    assert [failure.message for failure in found.failures] == ["off by one"]


def test_a_finding_about_a_response_needs_the_client_that_sent_it() -> None:
    with pytest.raises(ValueError, match="needs the client"):
        checking.Findings("rules.totals").add("", "wrong", response=object())  # type: ignore[arg-type]


def test_every_suite_skips_and_shares_through_the_one_interface() -> None:
    assert rules_common.Skip is checking.Skip
    assert rules_common.Broken is checking.Broken
    assert issubclass(rules_context.Findings, checking.Findings)
    assert isinstance(judge.findings(), checking.Findings)
    target = Target("http://127.0.0.1:9/api/v1", SPEC, keys=Keys(full="k"), seed=4)
    security = fixtures.Context(target)
    assert isinstance(security.shared, checking.Context)
    assert security.client("full") is security.shared.client("full")  # one session per role and run
    assert security.spec is security.shared.spec


def test_a_registry_belongs_to_whoever_built_it() -> None:
    mine = builtin.suites()
    mine.add(Entry("extra", lambda target: iter(()), default=True))
    assert "extra" in mine.defaults()
    assert "extra" not in builtin.suites().names()
    with pytest.raises(ValueError, match="registered already"):
        mine.add(Entry("extra", lambda target: iter(()), default=False))
    with pytest.raises(ValueError, match="unknown suite"):
        Registry().choose(["rules"])


def test_the_modules_that_run_and_report_name_no_suite() -> None:
    names = set(builtin.suites().names())
    for module in GENERIC:
        tree = ast.parse((ROOT / "contracts" / f"{module}.py").read_text(encoding="utf-8"))
        literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "contracts"
            for alias in node.names
        }
        assert not literals & names, f"contracts/{module}.py names suite(s) {sorted(literals & names)}"
        assert not imported & names, f"contracts/{module}.py imports suite(s) {sorted(imported & names)}"
