"""``contracts replay ID``: a faulty variant's failure, replayed, STILL FAILS there and NOW PASSES on the sandbox.

Each test runs one faulty variant once through the ``contracts run`` command (seed 1), takes the failure's id
from the JSON report, and replays it with ``contracts replay`` against the same faulty target (exit 1) and
against a fresh unmodified sandbox (exit 0): a conformance failure (one request), a rules state-machine
failure (a shrunk sequence whose later requests use ids the target assigns) and an idempotency failure (two
requests under one key). A stateful failure (Schemathesis' chain) replays against the small API of
``test_stateful`` with and without its bug.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.adapters
import yaml
from faulty import VARIANTS, Variant, serve
from test_stateful import KEY, THINGS_SPEC, Things
from test_stateful import serve as serve_things
from test_variants import cut_spec, rules_checks

from contracts import Keys, Target
from contracts import rules as rules_suite
from contracts import stateful as sf
from contracts.cli import main
from contracts.replay.artefact import Artefact
from contracts.replay.resend import Replay, Verdict

pytestmark = pytest.mark.live

SANDBOX_KEY = "sk_test_acme_full_4eC39HqLyjWDarjtT1zdp7dc"


def run_once(base_url: str, suite: str, spec: Path | None, folder: Path, *more: str) -> dict[str, Any]:
    """``contracts run`` with seed 1 (and ``more`` arguments) and a JSON report in ``folder``; the report."""
    report = folder / "report.json"
    args = ["run", "--base-url", base_url, "--suite", suite, "--seed", "1", "--max-examples", "3", *more]
    args += ["--json", str(report), "--junit-xml", str(folder / "junit.xml"), *(["--spec", str(spec)] if spec else [])]
    assert main(args) == 1
    body: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return body


def failure_of(report: dict[str, Any], rule: str) -> dict[str, Any]:
    """The first failure of ``rule`` in a JSON report."""
    found = [failure for check in report["checks"] for failure in check["failures"] if failure["rule"] == rule]
    assert found, f"no {rule} failure in {[f['rule'] for c in report['checks'] for f in c['failures']]}"
    return found[0]


def replay_twice(
    variant: Variant, suite: str, rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *more: str
) -> tuple[dict[str, Any], str, str]:
    """Run ``variant`` once (``more``: other arguments of the run), replay its ``rule`` failure against it (must exit
    1) and against the sandbox (exit 0).

    Returns the artefact and the two replays' output.
    """
    spec = cut_spec(variant.paths, tmp_path) if variant.paths else None
    with serve(variant) as faulty_url:
        failure = failure_of(run_once(faulty_url, suite, spec, tmp_path, *more), rule)
        failure_id = failure["id"]
        assert failure["replay"] == f"python -m contracts replay {failure_id} --from {tmp_path / 'replay'}"
        assert f'id="{failure_id}"' in (tmp_path / "junit.xml").read_text(encoding="utf-8")
        assert f"id:        {failure_id}" in capsys.readouterr().out
        assert main(["replay", failure_id, "--from", str(tmp_path / "report.json")]) == 1
        still = capsys.readouterr().out
    with serve() as sandbox_url:
        assert main(["replay", failure_id, "--from", str(tmp_path), "--base-url", sandbox_url]) == 0
        now = capsys.readouterr().out
    artefact: dict[str, Any] = json.loads((tmp_path / "replay" / f"{failure_id}.json").read_text(encoding="utf-8"))
    return artefact, still, now


def test_a_conformance_failure_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = VARIANTS["wrong_type"]
    artefact, still, now = replay_twice(
        variant, "conformance", "conformance.response_schema_conformance", tmp_path, capsys
    )
    assert [step["method"] + " " + step["path"] for step in artefact["steps"]][-1].startswith("GET /currencies")
    assert artefact["steps"][-1]["role"] == "full"
    assert artefact["judgement"] == {
        **artefact["judgement"],
        "kind": "check",
        "check": "response_schema_conformance",
        "extra": {"operation": "GET /currencies"},
    }
    assert 'STILL FAILS: conformance.response_schema_conformance: Response violates schema: "2" is not of type' in still
    assert "NOW PASSES" in now
    assert SANDBOX_KEY not in json.dumps(artefact)


def test_a_rules_machine_sequence_replays_with_the_ids_the_target_assigns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the rules checks that find rules.totals (the state machine), as test_variants runs that variant.
    monkeypatch.setattr(rules_suite, "CHECKS", rules_checks(("rules.totals",)))
    artefact, still, now = replay_twice(VARIANTS["wrong_total"], "rules", "rules.totals", tmp_path, capsys)
    with serve(VARIANTS["wrong_total"]) as again:  # the same failure on the same seed has the same id
        assert failure_of(run_once(again, "rules", None, tmp_path / "again"), "rules.totals")["id"] == artefact["id"]
    steps = artefact["steps"]
    assert len(steps) >= 2, "a sequence: the customer the invoice is for, then the invoice"
    creates = [index for index, step in enumerate(steps) if step["method"] == "POST" and step["path"] == "/customers"]
    invoice = next(step for step in steps if step["method"] == "POST" and step["path"] == "/invoices")
    bound = {binding["at"]: binding for binding in invoice["bindings"]}
    assert bound["body/customer_id"]["from"] in creates
    assert bound["body/customer_id"]["pointer"].endswith("/id")
    assert "STILL FAILS" in still
    assert "NOW PASSES" in now
    assert f"{len(steps)}. POST /invoices" in still


def test_a_rules_machine_failure_found_without_shrinking_replays_as_it_was_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules_suite, "CHECKS", rules_checks(("rules.totals",)))
    artefact, still, now = replay_twice(
        VARIANTS["wrong_total"], "rules", "rules.totals", tmp_path, capsys, "--no-shrink"
    )
    steps = artefact["steps"]
    assert any(step["method"] == "POST" and step["path"] == "/invoices" for step in steps)
    assert f"{len(steps)}. " in still
    assert "STILL FAILS" in still
    assert "NOW PASSES" in now


def test_an_idempotency_failure_replays_both_requests_under_one_fresh_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    variant = VARIANTS["idempotency_replay_differs"]
    artefact, still, now = replay_twice(variant, "idempotency", "idempotency.replay", tmp_path, capsys)
    keys = [dict(step["headers"]).get("Idempotency-Key") for step in artefact["steps"]]
    assert len(keys) == 2
    assert keys[0] == keys[1] is not None, "the failing request is the second one sent under the first's key"
    assert "STILL FAILS" in still
    assert "NOW PASSES" in now


def use_after_free(base_url: str, spec: Path) -> Artefact:
    """The replay artefact of a one-round stateful run's ``stateful.use_after_free`` failure on ``base_url``."""
    (result,) = sf.run(Target(base_url, spec, keys=Keys(full=KEY), seed=1, max_examples=1))
    artefact = next(f for f in result.failures if f.rule == "stateful.use_after_free").replay
    assert artefact is not None
    return artefact


@pytest.fixture
def things_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The small API's spec in a file, with the stateful suite held to one round."""
    monkeypatch.setattr(sf, "ROUNDS", 1)
    spec = tmp_path / "things.yaml"
    spec.write_text(yaml.safe_dump(THINGS_SPEC), encoding="utf-8")
    return spec


def test_a_stateful_chain_replays_with_the_id_its_create_assigns(things_spec: Path) -> None:
    spec = things_spec
    shown: list[str] = []
    with serve_things(Things("zombie")) as base_url:
        artefact = use_after_free(base_url, spec)
        assert KEY not in json.dumps(artefact.as_dict())
        methods = [step.method for step in artefact.steps]
        assert methods[0] == "POST"
        assert methods[-2:] == ["DELETE", "GET"]
        assert all(step.bindings for step in artefact.steps[1:]), "the DELETE and the GET use the created id"
        assert Replay(artefact, Target(base_url, spec, keys=Keys(full=KEY)), shown.append).run() is Verdict.STILL_FAILS
    with serve_things(Things()) as base_url:
        assert Replay(artefact, Target(base_url, spec, keys=Keys(full=KEY)), shown.append).run() is Verdict.NOW_PASSES


def test_a_replay_verifies_tls_with_the_environment_s_ca_bundle_as_the_run_does(
    things_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = things_spec
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "staging-ca.pem"))  # a staging server's private CA
    verified: list[object] = []
    send = requests.adapters.HTTPAdapter.send

    def noting_send(adapter: requests.adapters.HTTPAdapter, request: Any, **kwargs: Any) -> requests.Response:
        verified.append(kwargs.get("verify"))
        return send(adapter, request, **kwargs)

    with serve_things(Things("zombie")) as base_url:
        artefact = use_after_free(base_url, spec)
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", noting_send)
        assert Replay(artefact, Target(base_url, spec, keys=Keys(full=KEY)), print).run() is Verdict.STILL_FAILS
    assert verified
    assert set(verified) == {str(tmp_path / "staging-ca.pem")}
