"""Injected faults (latency, errors, dropped connections), seeded so a run repeats exactly.

A fault applies to the requests of one operation (or ``*``) and one key (or any caller). Each
matching request draws: ``n`` is a counter per fault in the store's ephemera, shared by every
worker, and the fault applies iff ``n <= times`` (when set) and
``random.Random(f"{kind}:{operation}:{key}:{seed}:{n}").random() < rate`` (not the fault's id, so a
fault added again after a clear repeats its sequence). So the n-th matching request meets the same
fate in every run with the same seed, whichever worker serves it. Every matching fault
draws, even when an earlier one already decided the request, so one fault's sequence never depends
on another's. Latencies of applying faults add (a range draws its milliseconds from the same
seeded ``Random``, after the rate draw); the first applying error or drop wins. ``times`` counts
matching requests, not applied ones.

An injected error is an ``ApiError`` whose status is the fault's and whose code is the API's code
for that status (``not_found`` for 404 ...), a gateway's for 500/502/503/504, else
``injected_fault``; a 429 carries ``Retry-After: 1`` and a 401 its ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import difflib
import functools
import random
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from mockserver import errors as api_errors
from mockserver.errors import ApiError, ValidationFailed
from mockserver.store import Ephemera

NAMESPACE = "fault-draws"
FAR_FUTURE = 1e18  # epoch seconds: draw counters live until the fault is forgotten
KINDS = ("latency", "error", "drop")
MAX_LATENCY_MS = 60_000
FIELDS = ("kind", "operation", "key", "rate", "latency_ms", "status", "after", "seed", "times")
ONLY_FOR = {"latency_ms": "latency", "status": "error", "after": "drop"}
GATEWAY_CODES = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}
GENERIC_CODE = "injected_fault"

Refuse = Callable[[str, str], None]  # records one message against one field


class InjectedFault(ApiError):
    """An error a fault injected; ``error_class`` makes one subclass per status, with that status's code."""

    status, code = 503, "service_unavailable"


@dataclass(frozen=True)
class FaultDecision:
    """What the faults do to one request: wait first, then answer with an error or drop the connection.

    ``drop`` is ``before`` (the request does not run) or ``after`` (it runs, then no response is sent).
    ``applied`` names the faults that applied, in order.
    """

    latency_seconds: float = 0.0
    error: ApiError | None = None
    drop: Literal["before", "after"] | None = None
    applied: tuple[str, ...] = ()


NO_FAULT = FaultDecision()


class FaultInjector:
    """Decides, deterministically per seed, which faults hit a request (draw counters shared by workers)."""

    def __init__(self, shared: Ephemera) -> None:
        self._shared = shared

    def decide(self, faults: Sequence[dict[str, Any]], operation_id: str, key_id: str | None) -> FaultDecision:
        """Draw for every fault that matches the operation and key; no faults cost no store call."""
        if not faults:
            return NO_FAULT
        latency_ms = 0.0
        error: ApiError | None = None
        drop: Literal["before", "after"] | None = None
        applied: list[str] = []
        for fault in faults:
            if fault.get("operation", "*") not in ("*", operation_id) or fault.get("key") not in (None, key_id):
                continue
            fault_id = str(fault["id"])
            n = self._shared.increment(NAMESPACE, fault_id, FAR_FUTURE, time.time())
            times = fault.get("times")
            if times is not None and n > times:
                continue
            kind = fault["kind"]
            draw = random.Random(_draw_seed(fault, n))  # noqa: S311 - repeatable by design
            if draw.random() >= fault.get("rate", 1):
                continue
            if kind == "latency":
                latency_ms += _latency(fault["latency_ms"], draw)
            elif error is not None or drop is not None:
                continue  # a request gets one error or drop: the first applying one
            elif kind == "error":
                error = injected_error(int(fault.get("status", 503)), fault_id)
            else:
                drop = "after" if fault.get("after") else "before"
            applied.append(fault_id)
        if not applied:
            return NO_FAULT
        return FaultDecision(latency_ms / 1000, error, drop, tuple(applied))

    def forget(self, fault_id: str | None = None) -> None:
        """Drop one fault's draw counter (it was deleted), or every fault's (all cleared)."""
        if fault_id is None:
            self._shared.clear(NAMESPACE)
        else:
            self._shared.discard(NAMESPACE, fault_id)


def _draw_seed(fault: dict[str, Any], n: int) -> str:
    """What the n-th draw of a fault is seeded with: what the fault is and its seed, never its id."""
    return f"{fault['kind']}:{fault.get('operation', '*')}:{fault.get('key')}:{fault.get('seed', 0)}:{n}"


def _latency(value: Any, draw: random.Random) -> float:
    """A latency in milliseconds: the fixed value, or one drawn from an inclusive [min, max] range."""
    if isinstance(value, list):
        return float(draw.randint(int(value[0]), int(value[1])))
    return float(value)


def injected_error(status: int, fault_id: str) -> ApiError:
    """The error a fault injects: its status, the API's code for it, a message naming the fault."""
    cls = error_class(status)
    message = f"Injected by sandbox fault {fault_id}: a simulated {status} {cls.code}, not a real failure."
    headers = {"Retry-After": "1"} if status == 429 else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="sandbox"'
    return cls(message, headers=headers)


@functools.cache
def error_class(status: int) -> type[InjectedFault]:
    """An ``InjectedFault`` subclass for one status (made once per status: ``status`` and ``code`` are class-wide)."""
    code = _api_codes().get(status) or GATEWAY_CODES.get(status, GENERIC_CODE)
    made = type(f"InjectedFault{status}", (InjectedFault,), {"status": status, "code": code, "__module__": __name__})
    return cast(type[InjectedFault], made)


@functools.cache
def _api_codes() -> dict[int, str]:
    """The API's own code per status, read from the error classes of ``mockserver.errors``."""

    def below(cls: type[ApiError]) -> Iterator[type[ApiError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    return {cls.status: cls.code for cls in below(ApiError) if cls.__module__ == api_errors.__name__}


# --- parsing ----------------------------------------------------------------------------------------------


def parse_fault(body: Any, *, operations: Collection[str], keys: Collection[str], fault_id: str) -> dict[str, Any]:
    """A fault document checked and completed with its defaults and ``id`` (422 naming each bad field)."""
    if not isinstance(body, dict):
        message = 'Send a JSON object such as {"kind": "error", "status": 503, "rate": 0.5}.'
        raise ValidationFailed({"body": [message]}, f"The fault is invalid: body: {message}")
    problems: dict[str, list[str]] = {}

    def refuse(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    for name in body:
        if name not in FIELDS:
            refuse(str(name), f"Unknown field; a fault takes {', '.join(FIELDS)}.")
    fault: dict[str, Any] = {"id": fault_id}
    kind = body.get("kind")
    if kind is None:
        refuse("kind", f"Give the kind of fault: one of {', '.join(KINDS)}.")
    elif kind not in KINDS:
        refuse("kind", f"Unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    else:
        fault["kind"] = kind
    fault["operation"] = _operation(body.get("operation", "*"), operations, refuse)
    fault["key"] = _key(body.get("key"), keys, refuse)
    fault["rate"] = _rate(body.get("rate", 1), refuse)
    for name, owner in ONLY_FOR.items():
        if name in body and kind in KINDS and kind != owner:
            refuse(name, f"{name} applies only to faults of kind {owner}; leave it out of this {kind} fault.")
    if kind == "latency":
        if "latency_ms" not in body:
            refuse("latency_ms", f"Give the delay in milliseconds (0..{MAX_LATENCY_MS}) or a range [min, max].")
        else:
            fault["latency_ms"] = _latency_ms(body["latency_ms"], refuse)
    elif kind == "error":
        fault["status"] = _status(body.get("status", 503), refuse)
    elif kind == "drop":
        after = body.get("after", False)
        if not isinstance(after, bool):
            refuse("after", "Give true (the request runs, then the connection drops) or false (it drops first).")
        fault["after"] = after
    fault["seed"] = _integer(body.get("seed", 0), "seed", "Give a whole number as the seed.", refuse)
    times = body.get("times")
    if times is not None and (not _is_int(times) or times < 1):
        refuse("times", "Give a whole number of 1 or more (how many matching requests), or null for no limit.")
    fault["times"] = times
    if problems:
        name, messages = next(iter(problems.items()))
        raise ValidationFailed(problems, f"The fault is invalid: {name}: {messages[0]}")
    return fault


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(value: Any, name: str, message: str, refuse: Refuse) -> Any:
    if not _is_int(value):
        refuse(name, message)
    return value


def _operation(value: Any, operations: Collection[str], refuse: Refuse) -> Any:
    """An operationId of the spec, or ``*`` for every operation."""
    if value == "*" or (isinstance(value, str) and value in operations):
        return value
    if not isinstance(value, str):
        refuse("operation", 'Give an operationId of the spec as a string, or "*" for every operation.')
        return value
    close = difflib.get_close_matches(value, list(operations), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    refuse("operation", f'Unknown operation {value!r}; use an operationId of the spec or "*".{hint}')
    return value


def _key(value: Any, keys: Collection[str], refuse: Refuse) -> Any:
    """A key id, or None for every caller (unauthenticated calls included)."""
    if value is None or (isinstance(value, str) and value in keys):
        return value
    shown = ", ".join(sorted(keys)[:10]) + (", ..." if len(keys) > 10 else "")
    known = f"one of the sandbox's key ids ({shown})" if keys else "a key id of the sandbox"
    refuse("key", f"Unknown key id {value!r}; use {known} or null for any caller.")
    return value


def _rate(value: Any, refuse: Refuse) -> Any:
    """The share of matching requests hit: more than 0, at most 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        refuse("rate", "Give the share of matching requests to hit: above 0 and at most 1 (0.25: a quarter).")
    return value


def _status(value: Any, refuse: Refuse) -> Any:
    """An HTTP error status to answer with."""
    if not _is_int(value) or not 400 <= value <= 599:
        refuse("status", "Give an HTTP error status from 400 to 599 (503 when left out).")
    return value


def _latency_ms(value: Any, refuse: Refuse) -> Any:
    """A delay in whole milliseconds, or an inclusive range [min, max] to draw it from."""
    message = f"Give whole milliseconds from 0 to {MAX_LATENCY_MS}, or a range [min, max] of them with min <= max."
    if isinstance(value, list):
        if len(value) != 2 or not all(_is_int(v) and 0 <= v <= MAX_LATENCY_MS for v in value) or value[0] > value[1]:
            refuse("latency_ms", message)
        return list(value)
    if not _is_int(value) or not 0 <= value <= MAX_LATENCY_MS:
        refuse("latency_ms", message)
    return value
