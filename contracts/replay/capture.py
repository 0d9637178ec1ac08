"""Give each failure of a check its replay artefact: the requests it needs, bound, redacted, with its judgement.

Hand-written checks (rules, security, idempotency, ratelimit, webhooks) send through ``contracts.http.Client``,
which records on the suite's tape; a failure names its request as curl, which is found on the tape. The
artefact is then that request and what it needs: in a marked run (the rules state machine, shrunk by
Hypothesis) the run's steps up to it; in a suite whose failures follow from the volume of requests (ratelimit)
every request of the check up to it; elsewhere the earlier requests it takes values from, the accepted writes
that name the records they created, and those sent under the same idempotency key
(``contracts.replay.steps.needed``). A failure with no request on the tape (one about a webhook delivery, a
count, a timing) gets none, and the report says it cannot be replayed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import requests

from contracts.http import curl, public_url, redact
from contracts.replay.artefact import Artefact
from contracts.replay.judgement import Judgement, same_answer, without_secrets
from contracts.replay.steps import Step, bind, failure_id, needed
from contracts.replay.tape import Exchange
from contracts.results import NO_ANSWER, RATE_LIMITED, CheckResult, Failure, Outcome
from contracts.target import Target

LOOKBACK = 2000  # earlier requests of the suite searched for what an unmarked failing request needs
# Suites whose failures follow from how many requests came before, and when: their artefact is every request
# of the check up to the failing one, and says what a replay cannot re-create.
_VOLUME = {
    "ratelimit": "a rate-limit failure depends on the state of the target's window and on headers: replay re-sends "
    "the check's requests back to back but can neither re-create the window nor re-judge its headers; re-run the "
    "ratelimit suite to judge a fix"
}
_MAX_ANSWER = 20_000  # bytes of an answer's JSON kept for bindings and the judgement (a larger one is not kept)


def attach(check: CheckResult, exchanges: Sequence[Exchange], target: Target) -> CheckResult:
    """``check`` with an artefact on each failure found on ``exchanges`` (the requests its suite sent for it)."""
    if check.outcome is not Outcome.FAILED or not exchanges:
        return check
    steps: dict[int, Step] = {}  # exchanges converted so far, by position: failures of a check share them
    failures = [
        failure if failure.replay is not None else _attach_one(check, failure, exchanges, target, steps)
        for failure in check.failures
    ]
    return replace(check, failures=failures)


def _attach_one(
    check: CheckResult, failure: Failure, exchanges: Sequence[Exchange], target: Target, steps: dict[int, Step]
) -> Failure:
    if not failure.reproduction or failure.status in (NO_ANSWER, RATE_LIMITED):
        return failure
    index = _find(failure.reproduction, exchanges, target)
    if index is None:
        return failure
    last = exchanges[index]
    if last.run:
        chosen = [i for i in range(index + 1) if exchanges[i].run == last.run]
    elif check.suite in _VOLUME:
        chosen = [i for i in range(max(0, index - LOOKBACK), index + 1) if exchanges[i].check == last.check]
    else:
        chosen = list(range(max(0, index - LOOKBACK), index + 1))
    for i in chosen:
        if i not in steps:
            steps[i] = step_of(exchanges[i], target)
    sequence = bind([steps[i] for i in chosen])
    if not last.run and check.suite not in _VOLUME:
        sequence = needed(sequence, len(sequence) - 1)
    final = sequence[-1]
    judgement = same_answer(failure.rule, final)
    unreplayable = _VOLUME.get(check.suite, "")
    return replace(
        failure, replay=artefact(check.suite, check.name, failure, sequence, judgement, target, unreplayable)
    )


def _find(reproduction: str, exchanges: Sequence[Exchange], target: Target) -> int | None:
    """The latest exchange whose request, as curl, is the failure's reproduction."""
    for index in range(len(exchanges) - 1, -1, -1):
        request = exchanges[index].response.request
        url = redact(str(request.url or ""), target)  # a key sent in the query is a variable in the reproduction
        if url and url in reproduction and redact(curl(request, target), target) == reproduction:
            return index
    return None


def artefact(
    suite: str,
    check: str,
    failure: Failure,
    steps: Sequence[Step],
    judgement: Judgement,
    target: Target,
    unreplayable: str = "",
) -> Artefact:
    """The artefact of ``failure`` (its id from the suite, the rule and the bound steps)."""
    return Artefact(
        id=failure_id(suite, failure.rule, steps),
        suite=suite,
        check=redact(check, target),
        rule=failure.rule,
        message=redact(failure.message, target),
        steps=tuple(steps),
        judgement=judgement,
        base_url=public_url(target.api),
        spec=str(target.spec_path),
        seed=target.seed,
        auth_scheme=tuple(target.auth_scheme),
        token_url=public_url(target.token_url) if target.token_url else "",
        unreplayable=unreplayable,
    )


def step_of(exchange: Exchange, target: Target) -> Step:
    """An exchange as a Step: what the caller sent (redacted) and the answer's status, type and JSON."""
    response = exchange.response
    path, root = exchange.path, False
    if exchange.base and exchange.base != target.api:  # another base on the same server (its control surface)
        path, root = urlsplit(exchange.base).path.rstrip("/") + path, True
    query = tuple((str(name), str(value)) for name, value in (exchange.params or {}).items())
    headers = tuple((str(name), str(value)) for name, value in (exchange.headers or {}).items())
    return Step(
        method=exchange.method.upper(),
        path=path,
        root=root,
        role=exchange.role,
        query=_redacted(query, target),
        headers=_redacted(headers, target),
        body=_redacted_json(exchange.json_body, target),
        content_type="application/json" if exchange.json_body is not None else "",
        status=response.status_code,
        answer=without_secrets(answer_json(response)),
        answer_type=response.headers.get("Content-Type", ""),
        answer_headers=tuple(response.headers),
    )


def answer_json(response: requests.Response) -> Any:
    """The answer's JSON (None when it has none, or when it is too large to keep)."""
    if "json" not in response.headers.get("Content-Type", "") or len(response.content) > _MAX_ANSWER:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _redacted(pairs: tuple[tuple[str, str], ...], target: Target) -> tuple[tuple[str, str], ...]:
    return tuple((name, redact(value, target)) for name, value in pairs)


def _redacted_json(body: Any, target: Target) -> Any:
    if body is None:
        return None
    return json.loads(redact(json.dumps(body, default=str), target))
