"""One request before anything else, so an unreachable target is reported in seconds, not after every suite."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from contracts.http import public_url
from contracts.meter import cause, no_answer_kind
from contracts.sessions import settled
from contracts.target import Target

PROBE_TIMEOUT = 10.0  # seconds; the probe needs any answer at all, not a fast one


@dataclass(frozen=True)
class Reach:
    """What the probe found: the status of any HTTP answer, or why none came (``problem``)."""

    status: int | None
    seconds: float
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Whether the target answered (any status: a 404 still proves something listens)."""
        return self.status is not None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {"status": self.status, "seconds": round(self.seconds, 3), "problem": self.problem}


def reach(target: Target) -> Reach:
    """``GET`` the base URL without a key and count it on ``target.meter``; any HTTP answer will do."""
    url = target.api
    started = time.monotonic()
    timeout = min(target.timeout, PROBE_TIMEOUT)
    try:
        with settled(requests.Session(), url) as session:  # without a key, so no ~/.netrc credential either
            response = session.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        target.meter.unanswered(exc, f"GET {public_url(url)}")
        return Reach(None, time.monotonic() - started, unreachable(url, exc, timeout))
    target.meter.answered(response.status_code)
    response.close()
    return Reach(response.status_code, time.monotonic() - started)


def unreachable(url: str, error: BaseException, timeout: float) -> str:
    """Why ``url`` gave no answer, and what to do about it, in one line."""
    shown = public_url(url)
    if no_answer_kind(error) == "timeout":
        return (
            f"{shown} did not answer within {timeout:g} s: is it running and reachable from here? "
            "check --base-url (and any proxy or firewall in between)"
        )
    return f"could not connect to {shown} ({cause(error)}): is it running? check --base-url"
