"""Artefacts for the failures Schemathesis finds (conformance: one case; stateful: the chain it reports).

The steps are the requests as Schemathesis sent them (its recorder keeps each case's wire request and answer):
the chain of a stateful failure, else the failing case alone. A request that carried the run's key is
replayed with a fresh one, sent the spec's way; any other credential-like header stays as it was sent.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from schemathesis.core.transport import Response
from schemathesis.engine.recorder import ScenarioRecorder

from contracts.http import redact
from contracts.replay.judgement import (
    RESPONSE_CHECKS,
    Judgement,
    by_check,
    media,
    same_answer,
    status_in,
    without_secrets,
)
from contracts.replay.steps import Step, bind
from contracts.target import Target

_NOT_REPLAYED_HEADERS = frozenset(
    {"user-agent", "accept-encoding", "connection", "content-length", "host", "x-schemathesis-testcaseid"}
)
_MAX_ANSWER = 20_000
_VARIABLE = "${CONTRACTS_"


def steps_of(
    recorder: ScenarioRecorder, case_ids: Sequence[str], carried: Collection[str], target: Target
) -> list[Step]:
    """The wire requests of ``case_ids`` (oldest first) as bound Steps; ``carried``: cases that carried the key."""
    steps: list[Step] = []
    for case_id in case_ids:
        interaction = recorder.interactions.get(case_id)
        if interaction is None:
            continue
        role = "full" if case_id in carried else None
        steps.append(_step(interaction.request, interaction.response, role, target))
    return bind(steps)


def _step(request: Any, response: Response | None, role: str | None, target: Target) -> Step:
    parts = urlsplit(str(request.uri))
    base = urlsplit(target.api).path.rstrip("/")
    path = parts.path[len(base) :] if base and parts.path.startswith(base) else parts.path
    headers = [(name, str(values[0]) if values else "") for name, values in request.headers.items()]
    kept_headers = _kept([(n, v) for n, v in headers if n.lower() not in _NOT_REPLAYED_HEADERS], role, target)
    query = _kept(parse_qsl(parts.query, keep_blank_values=True), role, target)
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    body, is_json = _body(request.body, content_type, target)
    answer, answer_type = _answer(response)
    return Step(
        method=str(request.method).upper(),
        path=path or "/",
        role=role,
        query=tuple(query),
        headers=tuple(kept_headers),
        body=body,
        json_body=is_json,
        content_type=content_type,
        status=response.status_code if response is not None else 0,
        answer=answer,
        answer_type=answer_type,
        answer_headers=tuple(response.headers) if response is not None else (),
    )


def _kept(pairs: Sequence[tuple[str, str]], role: str | None, target: Target) -> list[tuple[str, str]]:
    """Pairs redacted; for a request replayed as a role, without the credential it carried (re-sent fresh)."""
    redacted = [(name, redact(value, target)) for name, value in pairs]
    return [(name, value) for name, value in redacted if role is None or _VARIABLE not in value]


def _body(raw: bytes | None, content_type: str, target: Target) -> tuple[Any, bool]:
    if raw is None:
        return None, True
    text = redact(raw.decode("utf-8", "surrogateescape"), target)
    if "json" in media(content_type):
        try:
            return json.loads(text), True
        except ValueError:
            pass
    return text, False


def _answer(response: Response | None) -> tuple[Any, str]:
    if response is None:
        return None, ""
    content_type = next(iter(response.headers.get("content-type", [""])), "")
    if "json" not in content_type or len(response.content) > _MAX_ANSWER:
        return None, content_type
    try:
        return without_secrets(json.loads(response.content)), content_type
    except ValueError:
        return None, content_type


def operation_of(recorder: ScenarioRecorder, case_id: str) -> str:
    """The label of the operation a recorded case called ('' when the recorder has no such case)."""
    node = recorder.cases.get(case_id)
    return node.value.operation.label if node is not None else ""


def judgement_for(check: str, rule: str, last: Step, accepted: Sequence[str], operation: str = "") -> Judgement:
    """How a replay judges a Schemathesis check's failure.

    ``positive_data_acceptance``: the statuses it accepts (``accepted``); a check of the answer alone: that check,
    re-run; any other: the answer it judged wrong must not come back.
    """
    if check == "positive_data_acceptance":
        return status_in(rule, tuple(accepted))
    if check in RESPONSE_CHECKS and operation:
        return by_check(rule, check, operation, last)
    return same_answer(rule, last)
