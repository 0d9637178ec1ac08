"""Replay artefacts without a server: bindings to earlier answers, what a failing request needs, stable ids,
the same-answer judgement, and an artefact surviving its JSON file."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.cli import main
from contracts.replay.artefact import Artefact, ArtefactError, find, save
from contracts.replay.judgement import recurs, same_answer, status_in, status_matches
from contracts.replay.steps import Step, bind, failure_id, needed


def created(path: str, record_id: int, **fields: object) -> Step:
    """A POST that created a record with ``record_id``."""
    return Step("POST", path, body=dict(fields), status=201, answer={"data": {"id": record_id, **fields}})


def sequence(customer: int, invoice: int) -> list[Step]:
    """A customer, an unrelated note, an invoice for the customer, an action on it, a read of it."""
    return bind(
        [
            created("/customers", customer, name="Ada"),
            created("/notes", customer + 1, text="unrelated"),
            created("/invoices", invoice, customer_id=customer, total=100),
            Step("POST", f"/invoices/{invoice}/send", status=200, answer={"data": {"id": invoice}}),
            Step("GET", f"/invoices/{invoice}", status=200, answer={"data": {"id": invoice, "total": 101}}),
        ]
    )


def test_a_value_sent_is_bound_to_the_latest_write_that_answered_it_as_an_id() -> None:
    steps = sequence(7, 40)
    assert [(b.at, b.source, b.pointer) for b in steps[2].bindings] == [("body/customer_id", 0, "/data/id")]
    assert [(b.at, b.source) for b in steps[3].bindings] == [("path/2", 2)]
    assert [(b.at, b.source) for b in steps[4].bindings] == [("path/2", 3)]  # the send answered that id last


def test_the_id_1_is_bound_like_any_other() -> None:
    steps = bind([created("/things", 1, name="x"), Step("DELETE", "/things/1", status=204)])
    assert [(b.at, b.source, b.pointer) for b in steps[1].bindings] == [("path/2", 0, "/data/id")]


def test_a_query_value_is_bound_only_under_an_id_like_name() -> None:
    listing = Step("GET", "/invoices", query=(("page", "1"), ("customer_id", "1")), status=200)
    steps = bind([created("/customers", 1, name="x"), listing])
    assert [binding.at for binding in steps[1].bindings] == ["query/customer_id"]


def test_a_failing_request_keeps_what_it_needs_and_the_writes_to_those_records() -> None:
    kept = needed(sequence(7, 40), 4)
    assert [step.line() for step in kept] == [
        "POST /customers",
        "POST /invoices",
        "POST /invoices/40/send",
        "GET /invoices/40",
    ]
    assert [(b.at, b.source) for b in kept[1].bindings] == [("body/customer_id", 0)]


def test_a_request_under_a_used_idempotency_key_keeps_the_first_one() -> None:
    key = (("Idempotency-Key", "k-1"),)
    steps = bind(
        [
            Step("POST", "/customers", headers=key, body={"name": "Ada"}, status=201, answer={"data": {"id": 3}}),
            created("/notes", 4, text="unrelated"),
            Step("POST", "/customers", headers=key, body={"name": "Ada"}, status=201, answer={"data": {"id": 5}}),
        ]
    )
    assert [step.headers for step in needed(steps, 2)] == [key, key]


def test_the_id_ignores_what_the_target_assigns_but_not_what_was_sent() -> None:
    first = failure_id("rules", "rules.totals", needed(sequence(7, 40), 4))
    again = failure_id("rules", "rules.totals", needed(sequence(90, 3), 4))
    assert first == again
    assert first.startswith("rules-")
    assert failure_id("rules", "rules.due", needed(sequence(7, 40), 4)) != first
    other = bind([created("/customers", 7, name="Bob"), *sequence(7, 40)[1:]])
    assert failure_id("rules", "rules.totals", needed(other, 4)) != first


def test_the_same_answer_judgement_sees_past_new_ids_and_times_but_not_a_header_gone() -> None:
    wrong = {"data": {"id": 40, "invoice_number": "INV-40", "total": 101, "created_at": "2026-01-01T00:00:00Z"}}
    headers = ("Content-Type", "Date", "X-Request-Id")
    last = Step("GET", "/invoices/40", status=200, answer=wrong, answer_type="application/json", answer_headers=headers)
    judgement = same_answer("rules.totals", last)
    again = {"data": {"id": 41, "invoice_number": "INV-41", "total": 101, "created_at": "2026-01-02T10:00:00Z"}}
    fixed = {"data": {"id": 41, "invoice_number": "INV-41", "total": 100, "created_at": "2026-01-02T10:00:00Z"}}
    assert recurs(judgement, 200, "application/json; charset=utf-8", again, ["content-type", "x-request-id"])
    assert not recurs(judgement, 200, "application/json", fixed, headers)
    assert not recurs(judgement, 422, "application/json", again, headers)
    assert not recurs(judgement, 200, "application/json", again, [*headers, "Idempotent-Replayed"])


def test_a_status_judgement_takes_codes_and_classes() -> None:
    judgement = status_in("conformance.positive_data_acceptance", ("2xx", "404", "422"))
    assert status_matches(201, judgement.allowed)
    assert status_matches(422, judgement.allowed)
    assert not status_matches(400, judgement.allowed)


def test_an_artefact_survives_its_file_and_a_missing_one_is_named(tmp_path: Path) -> None:
    steps = tuple(needed(sequence(7, 40), 4))
    artefact = Artefact(
        id=failure_id("rules", "rules.totals", steps),
        suite="rules",
        check="state machine",
        rule="rules.totals",
        message="total: expected 100, got 101",
        steps=steps,
        judgement=same_answer("rules.totals", steps[-1]),
        base_url="http://127.0.0.1:8080/api/v1",
        seed=3,
    )
    save([artefact], tmp_path / "replay")
    assert find(artefact.id, tmp_path) == artefact
    assert find(artefact.id, tmp_path / "replay") == artefact
    with pytest.raises(ArtefactError, match="no artefact rules-000000000000"):
        find("rules-000000000000", tmp_path)
    with pytest.raises(ArtefactError, match="not a failure id"):
        find("../etc/passwd", tmp_path)


def test_replay_of_an_unknown_failure_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "rules-000000000000", "--from", str(tmp_path)]) == 2
    assert "no artefact rules-000000000000" in capsys.readouterr().err
    (tmp_path / "replay").mkdir()
    (tmp_path / "replay" / "rules-000000000001.json").write_text("{not json", encoding="utf-8")
    assert main(["replay", "rules-000000000001", "--from", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err
