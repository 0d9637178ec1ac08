"""The rate-limit checks: the remaining count falls by one per request, the limit answers 429, the window resets."""

from __future__ import annotations

import time

from contracts.checking import Skip
from contracts.ratelimit.headers import RETRY_AFTER as RETRY_AFTER_HEADER
from contracts.ratelimit.headers import seconds
from contracts.ratelimit.session import ROUNDING, Answer, Session, window_may_end
from contracts.ratelimit.spec import LIMITED, compile_schema
from contracts.results import Failure
from contracts.security.spec_view import json_or_none

REMAINING = "ratelimit.remaining"
LIMITED_RULE = "ratelimit.limited"
RETRY_AFTER = "ratelimit.retry_after"
ERROR_SHAPE = "ratelimit.error_shape"
RESET = "ratelimit.reset"
PAIRS = 5  # requests in a row whose remaining count must fall by exactly one
SHARED = "if other clients use this key at the same time, give the suite a key of its own"


def check_remaining(s: Session) -> tuple[list[Failure], str]:
    """Sequential requests with one key: in every documented family, each remaining count is one below the last."""
    headers = s.probe.remaining_headers
    if not headers:
        shown = ", ".join(sorted(s.probe.headers.values()))
        raise Skip(f"{s.name} documents no header saying how many requests are left (only {shown})")
    prev = s.start()
    missing = _unreadable(s, prev, headers)
    if missing:
        return missing, ""
    limit = prev.reading.limit
    needed = PAIRS if limit is None else max(1, min(PAIRS, limit - 1))
    good = unsure = 0
    cap = min(s.budget, 3 * needed + 2)
    while good < needed and s.sent < cap and prev.reading.remaining:
        cur = s.hit()
        if cur.status == LIMITED:
            s.notes.append(f"429 after {s.sent} request(s)")
            break
        if not cur.ok:
            raise Skip(f"{s.name} answered {cur.status} with {s.who}")
        missing = _unreadable(s, cur, headers)
        if missing:
            return missing, ""
        steps = {family: _step(prev, cur, family) for family in headers}
        wrong = [family for family, step in steps.items() if step == "wrong"]
        if wrong:
            return [_wrong_step(s, prev, cur, family, headers[family]) for family in wrong], ""
        if all(step == "one" for step in steps.values()):
            good += 1
        else:
            unsure += 1  # a new window may have begun between the two
        prev = cur
    if not good:
        why = "; ".join(s.notes) or f"{s.sent} request(s), a window may have ended between each two"
        raise Skip(f"no two answers in a row could be compared ({why})")
    shown = " and ".join(headers.values())
    reason = f"{good} request(s) in a row each spent one in {shown} ({s.who} on {s.name}; {prev.reading.describe()})"
    if unsure:
        reason += f"; {unsure} pair(s) not judged, a window may have ended between them"
    return [], reason


def _step(prev: Answer, cur: Answer, family: str) -> str:
    """``one`` (fell by one), ``unsure`` (a new window may have begun) or ``wrong``, in one header family."""
    before, after = prev.readings[family], cur.readings[family]
    if before.remaining is not None and after.remaining == before.remaining - 1:
        return "one"
    if after.fresh() and window_may_end(prev, cur, family):
        return "unsure"
    return "wrong"


def _wrong_step(s: Session, prev: Answer, cur: Answer, family: str, header: str) -> Failure:
    before, after = prev.readings[family].remaining, cur.readings[family].remaining
    expected = before - 1 if before is not None else "one less"
    message = f"{header} went from {before} to {after} between two requests in a row with {s.who}, not to {expected}"
    return s.failure(REMAINING, f"{message} ({SHARED})", cur)


def _unreadable(s: Session, answer: Answer, headers: dict[str, str]) -> list[Failure]:
    """A failure per documented remaining header the answer lacks (or carries unreadable)."""
    return [
        s.failure(REMAINING, f"{s.name} answered without a readable {header} (documented)", answer)
        for family, header in headers.items()
        if answer.readings[family].remaining is None
    ]


def check_limited(s: Session) -> tuple[list[Failure], str]:
    """Spending what is left of the window gets a 429 (not before), with Retry-After and the documented error."""
    start = s.last
    left = start.reading.remaining if start is not None else None
    if start is None or left is None:
        raise _unreached(s, "needs an answer saying how many requests are left (see ratelimit/remaining)")
    reading = start.reading
    if reading.reset is None:
        raise _unreached(s, "no answer says when the window resets: the key could stay rate-limited for long")
    spend = left + 1
    if spend > s.budget:
        raise _unreached(
            s,
            f"{s.name} with {s.who}: {reading.describe()}; reaching the limit takes {spend} requests, more than "
            f"--ratelimit-budget {s.budget}: give the target a lower limit "
            "(e.g. mockserver --rate-limit 20 --rate-window 10) or raise --ratelimit-budget",
        )
    if reading.reset > s.wait:
        raise _unreached(
            s,
            f"{s.name} with {s.who}: {reading.describe()}; the key would stay rate-limited for "
            f"{seconds(reading.reset)} s, more than --ratelimit-wait {s.wait:g}: give the target a shorter window "
            "(e.g. mockserver --rate-limit 20 --rate-window 10) or raise --ratelimit-wait",
        )
    prev, count = start, 0
    while count < s.budget:
        cur = s.hit()
        count += 1
        if cur.status == LIMITED:
            s.limited = cur
            found = judge_refusal(s, cur)
            left = prev.reading.remaining or 0
            if left > 0:
                message = f"{s.name} answered 429 although the answer before left {left} request(s) ({SHARED})"
                found.insert(0, s.failure(LIMITED_RULE, message, cur))
            return found, f"429 after {count} request(s) ({reading.describe()} at the start)"
        if not cur.ok or cur.reading.remaining is None:
            problem = f"answered {cur.status}" if not cur.ok else "answered without a readable remaining count"
            raise _unreached(s, f"{s.name} {problem} (see ratelimit/remaining)")
        new_window = cur.reading.fresh() and window_may_end(prev, cur)
        if prev.reading.remaining == 0 and not new_window:
            s.limited_reason = "the limit was never enforced"
            message = f"{s.name} answered {cur.status} although the answer before left 0 requests, not 429"
            return [s.failure(LIMITED_RULE, message, cur)], ""
        prev = cur
    if reading.limit is not None and count > reading.limit and not window_may_end(start, prev):
        s.limited_reason = "the limit was never enforced"
        message = f"{count} requests within one window of {reading.limit} were all answered, none with 429"
        return [s.failure(LIMITED_RULE, message, prev)], ""
    raise _unreached(s, f"no 429 within {count} request(s) (--ratelimit-budget): the window kept resetting")


def _unreached(s: Session, reason: str) -> Skip:
    """The limit was not reached: the reason, kept for ``reset`` too."""
    s.limited_reason = reason
    return Skip(reason)


def judge_refusal(s: Session, answer: Answer) -> list[Failure]:
    """A 429 carries the documented ``Retry-After`` (seconds or an HTTP date) and the documented error body."""
    found: list[Failure] = []
    if s.probe.documents_retry_after:
        raw = next((v for k, v in answer.response.headers.items() if k.lower() == RETRY_AFTER_HEADER), None)
        if raw is None:
            found.append(s.failure(RETRY_AFTER, f"{s.name} answered 429 without the documented Retry-After", answer))
        elif answer.retry_after() is None:
            message = f"{s.name} answered 429 with Retry-After {raw!r}: neither seconds nor an HTTP date"
            found.append(s.failure(RETRY_AFTER, message, answer))
    _media, schema = s.probe.error_schema()
    if schema is not None:
        body = json_or_none(answer.response)
        kind = answer.response.headers.get("Content-Type", "")
        if body is None or "json" not in kind:
            message = f"{s.name} answered 429 with a body that is not JSON ({kind or 'no Content-Type'})"
            found.append(s.failure(ERROR_SHAPE, message, answer))
        else:
            errors = [error.message for error in compile_schema(s.spec, schema).iter_errors(body)]
            if errors:
                message = f"{s.name} answered 429 with a body unlike the documented error: {'; '.join(errors[:3])}"
                found.append(s.failure(ERROR_SHAPE, message, answer))
    return found


def check_reset(s: Session) -> tuple[list[Failure], str]:
    """Once the time the 429 announced has passed (and a second for rounding), the budget is back."""
    refused = s.limited
    if refused is None:
        raise Skip(f"needs the limit reached first; ratelimit/limited: {s.limited_reason or 'no 429 was reached'}")
    announced = refused.announced()
    if announced is None:
        raise Skip("the 429 announced neither Retry-After nor when the window resets")
    if announced > s.wait:
        raise Skip(
            f"the 429 announced the budget back in {seconds(announced)} s, more than --ratelimit-wait {s.wait:g}"
        )
    time.sleep(max(0.0, refused.received + announced + ROUNDING - time.monotonic()))
    after = s.hit()
    if after.status == LIMITED:
        time.sleep(ROUNDING)
        after = s.hit()
    waited = after.sent - refused.received
    if after.status == LIMITED:
        message = (
            f"{s.name} still answered 429 {waited:.1f} s after a 429 that announced the budget back "
            f"in {seconds(announced)} s"
        )
        return [s.failure(RESET, message, after)], ""
    if not after.ok:
        raise Skip(f"{s.name} answered {after.status} after the reset")
    short = []
    for family, header in s.probe.remaining_headers.items():
        back = after.readings[family]
        if back.remaining is not None and back.limit is not None and back.remaining < back.limit - 1:
            message = f"after the reset {header} left {back.remaining} of {back.limit} requests, not the whole budget"
            short.append(s.failure(RESET, message, after))
    return short, f"budget back {waited:.1f} s after the 429 ({after.reading.describe()})"
