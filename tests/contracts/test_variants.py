"""Every faulty variant of the sandbox is caught by the rule it breaks.

Each variant runs only the suite(s) needed to catch it, to keep the whole file fast: a conformance
variant only on the spec paths its defect lives on (a copy of openapi.yaml cut down to them), a rules
variant only the rules checks its rules belong to, beside the state machine (the domain's reference
model, which reports rules of its own such as ``rules.totals``, and the check most likely to misreport).
That the unmodified sandbox passes every suite is test_deterministic_report.py's first assertion (it
runs every suite on it, then again those no other test runs twice with one seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import yaml_text
from faulty import VARIANTS, Variant, serve

from contracts import Keys, Report, Target, builtin, run, spec_document
from contracts import rules as rules_suite
from contracts.report import failures_text
from contracts.target import SANDBOX_KEYS

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"


def available_suites() -> set[str]:
    """The built-in suites."""
    return set(builtin.suites().names())


def cut_spec(paths: tuple[str, ...], folder: Path) -> Path:
    """openapi.yaml with only ``paths`` (components and the rest kept), for a short conformance run."""
    document: dict[str, Any] = spec_document.read(SPEC)
    document["paths"] = {path: item for path, item in document["paths"].items() if path in paths}
    target = folder / "openapi.yaml"
    target.write_text(yaml_text(document), encoding="utf-8")
    return target


def target(base_url: str, suites: tuple[str, ...], spec: Path = SPEC, max_examples: int = 10) -> Target:
    return Target(
        base_url=base_url,
        spec_path=spec,
        keys=Keys(**SANDBOX_KEYS),
        suites=suites,
        seed=1,
        max_examples=max_examples,
        webhook_wait=15.0,  # a webhook variant that never delivers is caught once this wait is over
        shrink=False,  # caught is what counts here: shrinking (test_machine.py tests it) took most of a rules variant
    )


def explain(report: Report) -> str:
    return failures_text(report)[:4000] or "(no failure)"


def test_there_are_enough_distinct_variants() -> None:
    assert len(VARIANTS) >= 12
    assert len({variant.rule for variant in VARIANTS.values()}) == len(VARIANTS)


# The webhook variants wait on deliveries, the rate-limit ones on windows, the idempotency race on a slow layer:
# test_webhooks_suite.py, test_ratelimit_suite.py and test_idempotency_suite.py run theirs side by side, once.
ON_THEIR_OWN = {("webhooks",), ("idempotency",), ("ratelimit",)}
RUN_HERE = {name: variant for name, variant in VARIANTS.items() if variant.suites not in ON_THEIR_OWN}


def rules_checks(rules: tuple[str, ...]) -> tuple[tuple[str, str, Any], ...]:
    """The rules suite's checks a variant breaking ``rules`` needs: those the rules belong to, and the state machine."""
    return tuple(
        (name, rule, check)
        for name, rule, check in rules_suite.CHECKS
        if name == "state machine" or any(wanted == rule or wanted.startswith(f"{rule}.") for wanted in rules)
    )


@pytest.mark.parametrize("variant", list(RUN_HERE.values()), ids=list(RUN_HERE))
def test_the_defect_is_caught(variant: Variant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = set(variant.suites) - available_suites()
    if missing:
        pytest.skip(f"suite(s) {', '.join(sorted(missing))} not written yet")
    spec = cut_spec(variant.paths, tmp_path) if variant.paths else SPEC
    monkeypatch.setattr(rules_suite, "CHECKS", rules_checks(variant.rules))
    with serve(variant) as base_url:
        report = run(target(base_url, variant.suites, spec, max_examples=5))
    assert not report.ok, f"{variant.name} ({variant.defect}) went unnoticed"
    broken = report.broken_rules()
    assert broken & set(variant.rules), (
        f"{variant.name} broke {sorted(broken)}, expected one of {variant.rules}\n{explain(report)}"
    )
    # One narrow defect: it shows where intended and nowhere else.
    assert broken <= set(variant.rules), f"{variant.name} also broke {sorted(broken - set(variant.rules))}"
