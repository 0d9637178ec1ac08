"""The idempotency checks: replays, a key reused with another body, concurrent duplicates, keys per company."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from contracts.checking import Findings, Skip
from contracts.http import Client
from contracts.idempotency.session import (
    CONFLICT,
    Session,
    marks_replays,
    record_id,
    replayed,
    same_answer,
)
from contracts.idempotency.spec import Subject, refusal_statuses

REPLAY = "idempotency.replay"
REPLAYED_HEADER = "idempotency.replayed_header"
MISMATCH = "idempotency.mismatch"
CONCURRENCY = "idempotency.concurrency"
PER_COMPANY = "idempotency.per_company"
CONCURRENT = 5  # same-key requests sent at once
BARRIER_SECONDS = 30.0


@dataclass
class Replays:
    """One pass over the create operations: findings per rule, and what the replay and mismatch checks covered."""

    replay: Findings
    header: Findings
    mismatch: Findings
    reason: str  # the replay check's: what it checked, and what not and why
    mismatch_reason: str  # the mismatch check's, likewise (without a count when it checked none)
    varied: int  # create operations sent another body under a used key


def check_replays(session: Session) -> Replays:
    """Per create operation: a replay is the same answer, marked as documented, nothing twice; another body is refused.

    Refused is 422, or 400 where the operation documents a 400 and no 422 (``refusal_statuses``).
    """
    replay, header, mismatch = Findings(REPLAY), Findings(REPLAYED_HEADER), Findings(MISMATCH)
    full = session.ctx.need("full", "a full-access key to create records")
    notes: list[str] = []
    unvaried: list[str] = []  # checked for replays, not with another body
    checked = varied = 0
    for subject in session.subjects:
        body = session.body(subject)
        if body is None:
            notes.append(f"{subject.name}: a required reference has no record to point at")
            continue
        key = session.new_key()
        first = session.send(subject, body, key)
        if not 200 <= first.status_code < 300:
            notes.append(f"{subject.name} answered {first.status_code} to a new key")
            continue
        checked += 1
        second = session.send(subject, body, key)
        if not same_answer(first, second):
            replay.add(
                "",
                f"{subject.name} sent again with the same {subject.header} and body answered "
                f"{second.status_code} with another body, not the stored {first.status_code} answer",
                second,
                client=full,
            )
        if marks_replays(subject, first.status_code):
            if replayed(first):
                header.add(
                    "", f"{subject.name}: the first request under a new key is marked as a replay", first, client=full
                )
            if not replayed(second):
                header.add(
                    "", f"{subject.name}: a replay lacks the documented Idempotent-Replayed: true", second, client=full
                )
        made = session.count(subject, body)
        if made is not None and made > 1:
            replay.add(
                "", f"{subject.name} sent twice under one key created {made} records, not one", second, client=full
            )
        other = session.varied(subject, body)
        if other is None:
            unvaried.append(f"{subject.name}: no text field to vary, the same key with another body is not checked")
            continue
        varied += 1
        third = session.send(subject, other, key)
        refusals = refusal_statuses(subject.op)
        if third.status_code not in refusals:
            wanted = " or ".join(str(status) for status in sorted(refusals, reverse=True))
            mismatch.add(
                "",
                f"{subject.name} with a used {subject.header} and another body answered {third.status_code}, "
                f"not {wanted}",
                third,
                client=full,
            )
    if not checked:
        raise Skip("no create operation with an idempotency key accepted a new record: " + "; ".join(notes[:3]))
    others = _covered(varied, notes + unvaried) if varied else "; ".join(notes + unvaried)
    return Replays(replay, header, mismatch, _covered(checked, notes), others, varied)


def _covered(checked: int, notes: list[str]) -> str:
    """``N create operation(s) checked``, and which were not and why."""
    return f"{checked} create operation(s) checked" + (f"; not checked: {'; '.join(notes)}" if notes else "")


def check_concurrency(session: Session) -> tuple[Findings, str]:
    """Requests sent at once under one key create one record: every 2xx carries its id, the rest are 409."""
    found = Findings(CONCURRENCY)
    full = session.ctx.need("full", "a full-access key to create records")
    subject, body = _first_body(session)
    key = session.new_key()
    barrier = threading.Barrier(CONCURRENT)
    clients = [session.client() for _ in range(CONCURRENT)]

    def one(client: Client) -> requests.Response:
        barrier.wait(BARRIER_SECONDS)
        return session.send(subject, body, key, client=client)

    try:
        with ThreadPoolExecutor(CONCURRENT, thread_name_prefix="idempotency") as pool:
            answers = list(pool.map(one, clients))
    finally:
        for client in clients:
            client.session.close()
    created = {record_id(subject, a) for a in answers if 200 <= a.status_code < 300}
    for answer in answers:
        if not (200 <= answer.status_code < 300 or answer.status_code == CONFLICT):
            found.add(
                "",
                f"{subject.name}: one of {CONCURRENT} requests sent at once under one key answered "
                f"{answer.status_code}, neither the stored answer nor 409",
                answer,
                client=full,
            )
    if len(created) > 1:
        shown = ", ".join(sorted(str(i) for i in created))
        last = next(a for a in answers if 200 <= a.status_code < 300)
        found.add(
            "",
            f"{subject.name}: {CONCURRENT} requests sent at once under one key created records {shown}",
            last,
            client=full,
        )
    stored = session.settle(subject, body, key)
    if not 200 <= stored.status_code < 300:
        found.add(
            "",
            f"{subject.name}: the key never settled, sent again it answered {stored.status_code}",
            stored,
            client=full,
        )
    elif created and record_id(subject, stored) not in created:
        made_by_none = record_id(subject, stored)
        found.add(
            "", f"{subject.name}: sent again, the key answers record {made_by_none}, made by none", stored, client=full
        )
    made = session.count(subject, body)
    if made is not None and made > 1:
        found.add(
            "", f"{subject.name}: {CONCURRENT} requests at once under one key left {made} records", stored, client=full
        )
    statuses = ", ".join(str(a.status_code) for a in answers)
    counted = "counted by search" if made is not None else "not counted (no search over the marker field)"
    return found, f"{CONCURRENT} requests on {subject.name} answered {statuses}; records {counted}"


def check_per_company(session: Session) -> tuple[Findings, str]:
    """The same key used by another company creates that company's own record; it replays nothing of ours."""
    found = Findings(PER_COMPANY)
    session.ctx.need("full", "a full-access key to create records")
    other = session.ctx.need("other", "a key of another company")
    plain = [s for s in session.subjects if not s.references]
    if not plain:
        raise Skip(
            "every create operation with an idempotency key needs references, so no two companies can send one body"
        )
    subject, body = _first_body(session, plain)
    key = session.new_key()
    ours = session.send(subject, body, key)
    if not 200 <= ours.status_code < 300:
        raise Skip(f"{subject.name} answered {ours.status_code} to a new key")
    theirs = session.send(subject, body, key, role="other")
    what = f"{subject.name} with a key another company already used"
    if not 200 <= theirs.status_code < 300:
        found.add("", f"{what} answered {theirs.status_code}, not a record of its own", theirs, client=other)
        return found, ""
    if marks_replays(subject, theirs.status_code) and replayed(theirs):
        found.add(
            "",
            f"{what} answered a replay (Idempotent-Replayed: true) of the other company's request",
            theirs,
            client=other,
        )
    counted = session.count(subject, body, role="other")
    if counted is not None:
        if counted != 1:
            found.add(
                "",
                f"{what} left {counted} records of the calling company with that body, not one",
                theirs,
                client=other,
            )
    else:
        made = record_id(subject, theirs)
        read = session.read(subject, made, "other") if made is not None else None
        if read is not None and read.status_code != 200:
            found.add("", f"{what} answered record {made}, which that company cannot read", read, client=other)
    return found, f"checked on {subject.name}"


def _first_body(session: Session, subjects: list[Subject] | None = None) -> tuple[Subject, dict[str, object]]:
    """The first subject that a valid body can be built for, with the body."""
    for subject in subjects if subjects is not None else session.subjects:
        body = session.body(subject)
        if body is not None:
            return subject, body
    raise Skip("no create operation with an idempotency key has a body whose references can be met")
