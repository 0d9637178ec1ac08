"""Where a request runs: on the event loop when its kind has proved quick, else in a thread.

Handing a request to a thread and its answer back costs two thread wake-ups and two hand-overs of
the interpreter lock, more than a whole get or list of 20 costs. A request whose kind (method,
path with its ids blurred, and the names of its query parameters) answered within the budget the
last times runs on the event loop itself; a kind never seen, or one that proved slow (a search, a
PDF, a big filter), runs in the pool, so it never holds up the others.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from dataclasses import dataclass

# A kind is quick while its running average stays within this many seconds.
DEFAULT_BUDGET_SECONDS = 0.002
# How much the latest duration moves the running average.
_WEIGHT = 0.25
# How much one run on the loop moves a kind's overrun rate, and the rate past which it is held back.
_OVERRUN_WEIGHT = 0.125
_OVERRUN_RATE = 0.2  # two overruns in a row, or within four runs
# A run on the loop this many times over the budget holds the kind back at once: it blocked, not a hiccup.
_BLOCKED_FACTOR = 16
# Runs in the pool after a kind first overran on the loop, and the most after repeated overruns.
_FIRST_PENALTY = 16
_MAX_PENALTY = 4096
# Kinds remembered (the least recently seen are forgotten): ids no pattern blurs stay bounded.
_KINDS_KEPT = 4096
# A path segment that names one record rather than a collection: it has a digit, or is long.
_ID_LIKE = re.compile(r"\d|^[^/]{25,}$")


@functools.lru_cache(maxsize=_KINDS_KEPT)
def kind_of(method: str, path: str, query_string: str) -> str:
    """``GET /api/v1/invoices/* ?limit,sort``: requests that cost alike share a kind (a path seen lately: a lookup)."""
    segments = "/".join("*" if _ID_LIKE.search(segment) else segment for segment in path.split("/"))
    names = sorted({pair.partition("=")[0] for pair in query_string.split("&") if pair})
    return f"{method} {segments} ?{','.join(names)}"


class CostModel:
    """What each kind of request costs, and whether the next one may run on the loop.

    Runs in the pool are measured in CPU time, so waiting (on the disk, a lock, a database server)
    goes unseen there; the loop's own runs are measured in wall time. A kind that holds the loop
    past the budget often (twice within a few runs), or once by far (16 times the budget),
    goes back to the pool for a number of requests that doubles each time it does so again (up to
    4,096), so one that blocks rather than computes is only tried now and then. A run over the
    budget now and then is not held against a kind: on a busy machine the process is sometimes
    not scheduled mid-request, and a thread would not have been scheduled either.
    """

    def __init__(self, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> None:
        self.budget_seconds = budget_seconds
        self._kinds: OrderedDict[str, _Cost] = OrderedDict()

    def quick(self, kind: str) -> bool:
        """Whether this kind has been seen, costs within the budget on average, and is not held back."""
        cost = self._kinds.get(kind)
        return cost is not None and cost.held_back == 0 and cost.average <= self.budget_seconds

    def observe(self, kind: str, seconds: float, *, on_loop: bool) -> None:
        """Fold one measured run into the kind's average; hold the kind back if it overran on the loop."""
        kinds = self._kinds
        cost = kinds.pop(kind, None)
        if cost is None:
            cost = _Cost(seconds)
        else:
            cost.average += _WEIGHT * (seconds - cost.average)
        if on_loop:
            overran = seconds > self.budget_seconds
            cost.overruns += _OVERRUN_WEIGHT * (overran - cost.overruns)
            if seconds > _BLOCKED_FACTOR * self.budget_seconds or (overran and cost.overruns > _OVERRUN_RATE):
                cost.penalty = min(max(cost.penalty * 2, _FIRST_PENALTY), _MAX_PENALTY)
                cost.held_back = cost.penalty  # the rate stays: one more overrun when it is back holds it back again
            elif not overran:
                cost.penalty //= 2
        elif cost.held_back:
            cost.held_back -= 1
        kinds[kind] = cost
        if len(kinds) > _KINDS_KEPT:
            kinds.popitem(last=False)


@dataclass
class _Cost:
    """One kind's running average, and how many more runs it must take in the pool."""

    average: float
    held_back: int = 0
    penalty: int = 0
    overruns: float = 0.0  # running share of its recent runs on the loop that went past the budget
