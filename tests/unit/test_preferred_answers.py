"""Every answer Prefer can ask for, on every spec the sandbox ships with, keeps the spec's own contract."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import PETSTORE, SPEC

from mockserver.behaviours.preferred import Preferences, PreferredAnswers
from mockserver.errors import BadRequest, ContractViolation
from mockserver.jsonio import dumps, loads
from mockserver.spec import SpecIndex, load_spec
from mockserver.validation import OperationValidator

TODAY = dt.date(2026, 6, 15)


def asked_for(index: SpecIndex) -> list[tuple[str, Preferences]]:
    """Every preference the operations document an answer to: each status, each named example, each faked."""
    cases: list[tuple[str, Preferences]] = []
    for operation in index.operations:
        for status, response in operation.responses.items():
            code = int(status) if status.isdigit() else None
            cases.append((operation.operation_id, Preferences(code=code, dynamic=True)))
            cases.append((operation.operation_id, Preferences(code=code)))
            for named in response.examples.values():
                cases.extend((operation.operation_id, Preferences(code=code, example=name)) for name in named)
    return cases


@pytest.mark.parametrize("spec", [SPEC, PETSTORE], ids=["invoicing", "petstore"])
def test_every_documented_answer_can_be_asked_for_and_matches_its_schema(spec: Path) -> None:
    index = SpecIndex.build(load_spec(spec))
    answers = PreferredAnswers(index, 1, TODAY)
    operations = {operation.operation_id: operation for operation in index.operations}
    validators = {name: OperationValidator(operation, strict=True) for name, operation in operations.items()}
    cases = asked_for(index)
    assert len(cases) > len(operations)
    broken: set[tuple[str, int]] = set()
    for operation_id, preferences in cases:
        reply = answers.answer(operations[operation_id], preferences)
        raw = reply.raw if reply.raw is not None or reply.body is None else dumps(reply.body)
        sent = None if raw is None else loads(raw) if isinstance(reply.body, dict | list) else reply.body
        try:  # as the strict view checks it
            validators[operation_id].response(reply.status, reply.content_type, sent)
        except ContractViolation:
            assert not preferences.dynamic, (operation_id, preferences)  # faked data always fits
            broken.add((operation_id, reply.status))
        assert all(isinstance(value, str) for value in reply.headers.values()), (operation_id, preferences)
    assert broken <= BROKEN_EXAMPLES


# Documented examples that break their own schema: a strict sandbox answers them with a 500 contract violation.
# listWebhookDeliveries 200: the payload's ``data`` is a shortened invoice, not a record of any resource.
BROKEN_EXAMPLES = {("listWebhookDeliveries", 200)}


def test_a_missing_status_or_example_is_refused_by_name() -> None:
    index = SpecIndex.build(load_spec(SPEC))
    answers = PreferredAnswers(index, 1, TODAY)
    health = next(operation for operation in index.operations if operation.operation_id == "getHealth")
    with pytest.raises(BadRequest, match=r"getHealth does not document; it documents 200, 429\."):
        answers.answer(health, Preferences(code=404))
    with pytest.raises(BadRequest, match=r"example=nope names no example of getHealth's 200 response"):
        answers.answer(health, Preferences(example="nope"))
