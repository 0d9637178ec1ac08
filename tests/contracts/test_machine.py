"""The rules suite against the sandbox (every check passes) and against a server that lies about totals."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from local_constants import another_local_module
from werkzeug.wrappers import Response
from wsgi_server import serve_wsgi

from contracts import rules as machine
from contracts.cli import main
from contracts.report import failures_text
from contracts.results import Outcome, Report
from contracts.target import SANDBOX_KEYS, Keys, Target, build_target
from contracts.verdict import ExitCode
from mockserver.app import create_app
from mockserver.settings import Settings
from tests.conftest import ROOT, LiveServer

CHECKS = [
    "state machine",
    "pagination",
    "filters",
    "sort",
    "search",
    "reports",
    "deleted",
    "default page size",
    "default sort",
    "field defaults",
    "dates",
    "lifecycles",
    "references",
    "referenced deletes",
    "sequences",
    "unique fields",
    "money",
    "filters of every list",
]


def target_for(base: str, **overrides: Any) -> Target:
    return Target(base_url=f"{base}/api/v1", spec_path=ROOT / "openapi.yaml", keys=Keys(**SANDBOX_KEYS), **overrides)


def run_rules(target: Target) -> Report:
    return Report(checks=list(machine.run(target)))


@pytest.mark.live
def test_every_rule_holds_on_the_sandbox(live_server: LiveServer) -> None:
    report = run_rules(target_for(live_server.base))
    assert [check.name for check in report.checks] == CHECKS
    assert all(check.suite == "rules" for check in report.checks)
    assert report.ok, failures_text(report)
    assert all(check.outcome is Outcome.PASSED for check in report.checks), [
        (check.name, check.reason) for check in report.checks
    ]


@pytest.mark.live
def test_the_same_seed_sends_the_same_requests(live_server: LiveServer, tmp_path: Path) -> None:
    """Two machine runs with one seed draw the same steps (ids differ, the sequence of calls does not).

    The second run with one more local module loaded, whose constants Hypothesis would draw from.
    """
    target = target_for(live_server.base, seed=7, max_examples=3)
    shapes = []
    contexts: list[AbstractContextManager[None]] = [nullcontext(), another_local_module(tmp_path)]
    for loaded in contexts:
        ctx = machine.Context.open(target)
        examples: list[list[str]] = []
        original = machine.RulesMachine.__init__
        send = ctx.client.call

        def spy(
            self: machine.RulesMachine, original: Callable[..., None] = original, examples: list[list[str]] = examples
        ) -> None:
            original(self)
            examples.append([])

        def sent(
            method: str,
            path: str,
            *,
            send: Callable[..., Any] = send,
            examples: list[list[str]] = examples,
            **kwargs: Any,
        ) -> Any:
            response = send(method, path, **kwargs)
            if examples:  # the calls of an example, in full (the machine's own log cuts long bodies short)
                examples[-1].append(json.dumps([method, path, kwargs, response.status_code], default=str))
            return response

        machine.RulesMachine.__init__ = spy  # type: ignore[method-assign]
        ctx.client.call = sent  # type: ignore[method-assign]
        try:
            with loaded:
                assert machine.machine_failures(ctx) == []
        finally:
            machine.RulesMachine.__init__ = original  # type: ignore[method-assign]
        # Ids and the run's random name token change between runs; the requests' shape must not.
        shapes.append([[re.sub(r"\d+|zq[a-z]+", "N", call) for call in run] for run in examples])
    assert shapes[0] == shapes[1]


class AddOneToTotal:
    """WSGI middleware: every invoice the API returns claims a total one cent too high."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = Response.from_app(self.app, environ)
        if environ.get("PATH_INFO", "").startswith("/api/v1/invoices") and response.is_json:
            body = json.loads(response.get_data())
            data = body.get("data") if isinstance(body, dict) else None
            for record in data if isinstance(data, list) else [data]:
                if isinstance(record, dict) and isinstance(record.get("total"), int):
                    record["total"] += 1
            response.set_data(json.dumps(body))
        return response(environ, start_response)


@pytest.fixture
def faulty_server() -> Iterator[str]:
    app = create_app(Settings(strict=False, seed=1, rate_limit=10**9))
    with serve_wsgi(AddOneToTotal(app)) as root:
        yield root


def test_a_wrong_total_fails_rules_totals_with_a_shrunk_reproduction(faulty_server: str) -> None:
    report = run_rules(target_for(faulty_server))
    by_name = {check.name: check for check in report.checks}
    machine_check = by_name["state machine"]
    assert machine_check.outcome is Outcome.FAILED
    assert machine_check.rules == ["rules.totals"], failures_text(report)
    failure = machine_check.failures[0]
    assert "total: expected" in failure.message
    assert failure.reproduction.startswith("curl -X ")
    assert "/invoices" in failure.reproduction
    # Shrunk: the minimal run creates a customer and one invoice, nothing else.
    steps = re.search(r"Minimal reproduction \((\d+) steps", failure.message)
    assert steps is not None, failure.message
    assert int(steps.group(1)) <= 2, failure.message
    assert "state.create_invoice(" in failure.message
    calls = re.search(r"HTTP calls of that run \((\d+)\)", failure.message)
    assert calls is not None, failure.message
    assert int(calls.group(1)) <= 3, failure.message
    # Only the totals lie: the checks that do not read a total still pass.
    for name in ("pagination", "filters", "search", "reports", "deleted"):
        assert by_name[name].outcome is Outcome.PASSED, (name, failures_text(report))


def test_with_no_shrink_the_machine_reports_its_failure_as_found(
    faulty_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(machine, "CHECKS", tuple(entry for entry in machine.CHECKS if entry[0] == "state machine"))
    report = tmp_path / "report.json"
    args = ["run", "--base-url", f"{faulty_server}/api/v1", "--suite", "rules", "--no-shrink", "--json", str(report)]
    assert main(args) == int(ExitCode.BROKEN)
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["run"]["shrink"] is False  # the report says how the run was made
    (check,) = body["checks"]
    assert check["name"] == "state machine"
    (failure,) = [failure for failure in check["failures"] if failure["rule"] == "rules.totals"]
    assert "total: expected" in failure["message"]
    assert "Minimal reproduction" not in failure["message"]
    assert re.search(r"Reproduction \(\d+ steps, as found: not shrunk \(--no-shrink\), seed \d+\)", failure["message"])


def test_shrinking_is_a_flag_and_a_config_setting(tmp_path: Path) -> None:
    config = tmp_path / "target.toml"
    config.write_text('base_url = "http://127.0.0.1:9/api/v1"\nshrink = false\n', encoding="utf-8")
    assert build_target("http://127.0.0.1:9/api/v1").shrink is True
    assert build_target(None, config=config).shrink is False
    assert build_target("http://127.0.0.1:9/api/v1", shrink=False).shrink is False
    config.write_text('base_url = "http://127.0.0.1:9/api/v1"\nshrink = "no"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="shrink in the config file must be true or false"):
        build_target(None, config=config)


def test_no_full_key_skips_every_check(tmp_path: Path) -> None:
    target = Target(base_url="http://127.0.0.1:9/api/v1", spec_path=tmp_path / "none.yaml", keys=Keys())
    report = run_rules(target)
    assert [check.outcome for check in report.checks] == [Outcome.SKIPPED] * len(CHECKS)
