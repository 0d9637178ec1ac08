"""Rate-limit headers as a target sends them: ``X-RateLimit-*``, the IETF ``RateLimit`` fields, ``Retry-After``.

Two families, each read on its own (an answer may carry both, describing one budget twice):

- ``X-RateLimit``: ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (seconds from now, or GitHub's Unix time).
- ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers): first one field per value (``RateLimit-Limit``, ...),
  then ``RateLimit: limit=100, remaining=50, reset=30``, now ``RateLimit: "p";r=50;t=30`` with
  ``RateLimit-Policy: "p";q=100;w=60``. All are read.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass

X_FAMILY = "X-RateLimit"
IETF_FAMILY = "RateLimit"
X_NAMES = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
IETF_FIELDS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
COMBINED = "ratelimit"
POLICY = "ratelimit-policy"
FAMILIES = {X_FAMILY: X_NAMES, IETF_FAMILY: (*IETF_FIELDS, COMBINED, POLICY)}
# The header of each family that says how many requests are left, by preference.
REMAINING = {X_FAMILY: ("x-ratelimit-remaining",), IETF_FAMILY: ("ratelimit-remaining", COMBINED)}
KNOWN = (*X_NAMES, *FAMILIES[IETF_FAMILY])
RETRY_AFTER = "retry-after"
EPOCH = 10**9  # a reset above this is a Unix time (GitHub's X-RateLimit-Reset), not seconds from now

_INTEGER = re.compile(r"\s*(\d+)")
_PARAM = re.compile(r"(?:^|[;,\s])(r|t|q|w|limit|remaining|reset)\s*=\s*(\d+)", re.IGNORECASE)


def seconds(value: float) -> str:
    """A duration for people: ``1.5``, ``3600`` (never ``3.6e+03``)."""
    return f"{value:.0f}" if value >= 100 else f"{value:g}"


def family_of(name: str) -> str | None:
    """The family a header belongs to (``X-RateLimit`` or ``RateLimit``), or None."""
    lower = name.lower()
    return next((family for family, names in FAMILIES.items() if lower in names), None)


@dataclass(frozen=True)
class Reading:
    """What one answer says about the caller's budget in one family (None: the answer does not say)."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None  # seconds until the window resets

    def fresh(self) -> bool:
        """Whether this could be the first answer of a window (all but this request left; unknown limit: maybe)."""
        if self.remaining is None or self.limit is None:
            return True
        return self.remaining >= self.limit - 1

    def describe(self) -> str:
        """``limit 10, 9 left, resets in 2 s`` (the parts known)."""
        parts = [f"limit {self.limit}" if self.limit is not None else "limit not given"]
        if self.remaining is not None:
            parts.append(f"{self.remaining} left")
        if self.reset is not None:
            parts.append(f"resets in {seconds(self.reset)} s")
        return ", ".join(parts)


def read(headers: Mapping[str, str], now: float, family: str = X_FAMILY) -> Reading:
    """The budget one family of headers describes; ``now`` (Unix time) turns an epoch reset into seconds."""
    lower = {str(name).lower(): str(value) for name, value in headers.items()}
    if family == X_FAMILY:
        limit, remaining, reset = (_integer(lower.get(name)) for name in X_NAMES)
    else:
        combined, policy = _params(lower.get(COMBINED, "")), _params(lower.get(POLICY, ""))
        limit, remaining, reset = (_integer(lower.get(name)) for name in IETF_FIELDS)
        limit = limit if limit is not None else combined.get("limit", policy.get("q"))
        remaining = remaining if remaining is not None else combined.get("remaining", combined.get("r"))
        reset = reset if reset is not None else combined.get("reset", combined.get("t"))
    seconds_left = None if reset is None else float(max(0.0, reset - now) if reset > EPOCH else reset)
    return Reading(limit, remaining, seconds_left)


def retry_after(headers: Mapping[str, str], now: dt.datetime) -> float | None:
    """``Retry-After`` in seconds from ``now``: delay-seconds or an HTTP date; None when absent or unreadable."""
    value = next((str(v) for k, v in headers.items() if str(k).lower() == RETRY_AFTER), "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _integer(value: str | None) -> int | None:
    """The leading integer of a header value (``100, 100;w=60`` is 100), or None."""
    found = _INTEGER.match(value) if value is not None else None
    return int(found.group(1)) if found else None


def _params(value: str) -> dict[str, int]:
    """The first value of each numeric parameter (``r``, ``t``, ``q``, ``w``, ``limit``, ...) of a RateLimit field."""
    found: dict[str, int] = {}
    for name, number in _PARAM.findall(value):
        found.setdefault(name.lower(), int(number))
    return found
