"""Progress as a run goes: a line per check in flight (with requests and failures so far) and per finished check.

On a terminal (``isatty``, and neither ``NO_COLOR`` nor ``CI`` set, nor ``TERM=dumb``) one status line is
redrawn in place, at most ``REDRAW_SECONDS`` apart, and outcomes are coloured. Otherwise (CI logs, pipes) the
output is plain text without ANSI codes: a line whenever the check or operation in flight changes, and a
heartbeat every ``HEARTBEAT_SECONDS`` while it does not, so a long check still shows it is alive.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from contracts.meter import Counts, Meter
from contracts.results import CheckResult, Outcome, SuiteRun

REDRAW_SECONDS = 0.1
HEARTBEAT_SECONDS = 10.0

_MARK = {Outcome.PASSED: "PASS", Outcome.FAILED: "FAIL", Outcome.SKIPPED: "SKIP", Outcome.ERROR: "ERR "}
_COLOUR = {Outcome.PASSED: "32", Outcome.FAILED: "31", Outcome.SKIPPED: "33", Outcome.ERROR: "35"}
_CLEAR_LINE = "\r\x1b[K"


def use_ansi(out: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour and redrawing only on a terminal, and never with ``NO_COLOR``, ``CI`` or ``TERM=dumb``."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("CI") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def traffic(counts: Counts) -> str:
    """``412 requests (429: 400, no answer: 2)``: the parts that matter at a glance."""
    extra = []
    if counts.rate_limited:
        extra.append(f"429: {counts.rate_limited}")
    if counts.status.get("5xx"):
        extra.append(f"5xx: {counts.status['5xx']}")
    if counts.unanswered:
        extra.append(f"no answer: {counts.unanswered}")
    return f"{counts.made} requests" + (f" ({', '.join(extra)})" if extra else "")


class Console:
    """Writes a run's progress to ``out`` as it happens (the runner's listener)."""

    def __init__(
        self,
        out: TextIO = sys.stdout,
        *,
        ansi: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.ansi = use_ansi(out) if ansi is None else ansi
        self.clock = clock
        self._lock = threading.Lock()
        self._suite = ""
        self._shown = ""  # the activity last printed (plain) or drawn (ansi)
        self._last = 0.0  # when the last progress line was written
        self._status = False  # whether a redrawable status line is on screen

    def suite_started(self, name: str) -> None:
        """A suite begins."""
        with self._lock:
            self._suite = name
            self._shown = ""
            self._line(self._paint(f"{name}: started", "1"))

    def activity(self, meter: Meter) -> None:
        """Something happened in the suite (a request, a new check): maybe show it."""
        now = self.clock()
        with self._lock:
            changed = meter.activity != self._shown
            if self.ansi:
                if changed or now - self._last >= REDRAW_SECONDS:
                    self._draw(meter, now)
            elif changed or now - self._last >= HEARTBEAT_SECONDS:
                self._shown = meter.activity
                self._last = now
                self._line(f"  ...  {self._live(meter)}")

    def check_finished(self, check: CheckResult, meter: Meter) -> None:
        """A line per finished check, its outcome coloured on a terminal."""
        with self._lock:
            mark = self._paint(_MARK[check.outcome], _COLOUR[check.outcome])
            extra = f"  ({check.reason})" if check.reason else ""
            self._line(f"  {mark}  {check.suite:<12} {check.name}{extra}")

    def suite_finished(self, run: SuiteRun) -> None:
        """The suite's totals."""
        counts = run.requests
        status = ", ".join(f"{name} {n}" for name, n in counts.status.items() if n) or "none"
        cut = "INTERRUPTED after " if run.interrupted else ""
        with self._lock:
            self._shown = ""
            self._line(
                f"{run.name}: {cut}{counts.made} requests, {counts.answered} answered ({status}), "
                f"{counts.unanswered} without answer, {run.seconds:.1f} s"
            )

    def _live(self, meter: Meter) -> str:
        what = f"  {meter.activity}" if meter.activity else ""
        return f"{self._suite:<12}{what}  [{traffic(meter.counts())}, failures {meter.failures}]"

    def _draw(self, meter: Meter, now: float) -> None:
        self._shown = meter.activity
        self._last = now
        width = shutil.get_terminal_size().columns - 1  # a wrapped line could not be redrawn in place
        self.out.write(_CLEAR_LINE + self._paint(f"  ...  {self._live(meter)}"[:width], "2"))
        self.out.flush()
        self._status = True

    def _line(self, text: str) -> None:
        if self._status:
            self.out.write(_CLEAR_LINE)
            self._status = False
        self.out.write(text + "\n")
        self.out.flush()

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.ansi else text
