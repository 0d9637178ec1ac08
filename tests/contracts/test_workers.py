"""--workers N: conformance and stateful in N processes send the same cases, and the report counts each once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_bounded_runs import BOUNDS_SPEC, KEY, Counting, failing_reads, failing_reads_spec
from wsgi_server import serve_wsgi

from contracts import Keys, Target, workers
from contracts.cli import main

pytestmark = pytest.mark.skipif(not workers.can_fork(), reason="worker processes need fork")


def run_json(base_url: str, spec: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    args = ["run", "--base-url", base_url, "--spec", str(spec), "--key", f"full={KEY}", "--seed", "3"]
    code = main([*args, *extra, "--json", str(report)])
    return code, json.loads(report.read_text(encoding="utf-8"))


def test_conformance_in_two_processes_sends_the_same_cases_and_counts_them_once(tmp_path: Path) -> None:
    spec = tmp_path / "bounds.yaml"
    spec.write_text(yaml.safe_dump(BOUNDS_SPEC), encoding="utf-8")
    seen = []
    bodies = []
    for count in ("1", "2"):
        app = Counting()
        with serve_wsgi(app) as base_url:
            code, body = run_json(
                base_url, spec, tmp_path, "--suite", "conformance", "--max-examples", "3", "--workers", count
            )
        seen.append(app.seen)
        bodies.append((code, body))
    (one_code, one), (two_code, two) = bodies
    assert one_code == two_code
    # Each operation is seeded as in one process: the same cases, in another order. (Schemathesis's own probes,
    # such as undeclared methods and its capability probe, are sent once per process, and are not cases.)
    cases = [{request: n for request, n in found.items() if request in ("POST /deep", "GET /flat")} for found in seen]
    assert cases[0] == cases[1]
    assert [(c["name"], c["outcome"]) for c in one["checks"]] == [(c["name"], c["outcome"]) for c in two["checks"]]
    assert one["suites"][0]["requests"] == two["suites"][0]["requests"]  # counts, by status and credential
    # Every case.call counted once, in the parent: as many as in one process (above), at least every case.
    assert two["suites"][0]["requests"]["made"] >= sum(cases[1].values())


def test_stateful_rounds_in_two_processes_report_their_failures_and_requests(tmp_path: Path) -> None:
    spec = tmp_path / "failing.yaml"
    spec.write_text(yaml.safe_dump(failing_reads_spec()), encoding="utf-8")
    with serve_wsgi(failing_reads) as base_url:
        code, body = run_json(base_url, spec, tmp_path, "--suite", "stateful", "--max-examples", "1", "--workers", "2")
    (check,) = body["checks"]
    assert check["outcome"] == "failed"
    assert {failure["rule"] for failure in check["failures"]} >= {"stateful.not_a_server_error"}
    requests = body["suites"][0]["requests"]
    assert requests["made"] == requests["answered"] > 0
    assert requests["status"]["5xx"] > 0
    assert code == 1


def test_one_worker_or_a_request_budget_keeps_one_process(tmp_path: Path) -> None:
    spec = tmp_path / "bounds.yaml"
    spec.write_text(yaml.safe_dump(BOUNDS_SPEC), encoding="utf-8")
    from contracts import budget

    target = Target("http://127.0.0.1:9", spec, keys=Keys(full=KEY), workers=2)
    assert workers.share(target) == [frozenset({"POST /deep"}), frozenset({"GET /flat"})]
    assert workers.share(Target("http://127.0.0.1:9", spec, workers=1)) is None
    spent_by_requests = budget.Budget(budget.parse("100req"))
    assert workers.share(Target("http://127.0.0.1:9", spec, workers=2, budget=spent_by_requests)) is None
    assert workers.share(Target("http://127.0.0.1:9", spec, workers=2, operations=frozenset({"GET /flat"}))) is None


def test_workers_budget_and_operations_come_from_the_config_file_too(tmp_path: Path) -> None:
    from contracts.cli import configured_target, parser

    spec = tmp_path / "bounds.yaml"
    spec.write_text(yaml.safe_dump(BOUNDS_SPEC), encoding="utf-8")
    config = tmp_path / "contracts.toml"
    config.write_text(
        f'[target]\nbase_url = "http://127.0.0.1:9"\nspec = "{spec}"\nworkers = 2\nbudget = "2m,500req"\n'
        'operations = ["GET /flat"]\n',
        encoding="utf-8",
    )
    target = configured_target(parser().parse_args(["run", "--config", str(config)]))
    assert target.workers == 2
    assert target.budget is not None
    assert target.budget.limit.text() == "120s,500req"
    assert target.operations == frozenset({"GET /flat"})
    flags = ["run", "--config", str(config), "--workers", "1", "--operations", "POST /deep"]
    overridden = configured_target(parser().parse_args(flags))  # flags win
    assert overridden.workers == 1
    assert overridden.operations == frozenset({"POST /deep"})
    assert main(["run", "--config", str(config), "--workers", "0"]) == 2
