"""Ctrl-C (SIGINT) during a run: the first stops it after reporting what it checked, the second stops at once.

``handled()`` installs the handler for the length of a ``with`` block and puts the previous one back after. The
first SIGINT is noted on the block's ``Interruption``, says so on stderr, and raises KeyboardInterrupt in the
main thread as Python's default handler does (Schemathesis stops its engine on it; ``contracts.runner`` marks
the suite in flight interrupted, starts no other, and the verdict is ``ExitCode.INTERRUPTED``). It also puts
back the system's default action, so a second SIGINT ends the process at once, reports or not, the way an
unhandled SIGINT does (the shell sees exit status 130). Outside the main thread (where Python allows no
signal handler) the block changes nothing.

The exception alone is not enough: one raised while the main thread runs a finalizer (``__del__``, a weakref
callback) is printed as "Exception ignored" and lost. So the runner hands the ``Interruption`` to the suites
(``Target.interruption``): the engine stops at its next event, a hand-written suite at its next check.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

NOTICE = b"\ninterrupted: reporting what was checked; press Ctrl-C again to stop at once\n"


@dataclass
class Interruption:
    """Whether the run was asked to stop (SIGINT) while a ``handled()`` block ran."""

    requested: bool = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        """The first SIGINT: note it, restore the default action for the next one, interrupt the main thread."""
        self.requested = True
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.write(2, NOTICE)  # not sys.stderr: the main thread may be inside a write to it
        raise KeyboardInterrupt


@contextmanager
def handled() -> Iterator[Interruption]:
    """Handle SIGINT as the module says while the block runs (in the main thread only)."""
    interruption = Interruption()
    if threading.current_thread() is not threading.main_thread():
        yield interruption
        return
    previous = signal.signal(signal.SIGINT, interruption.handler)
    try:
        yield interruption
    finally:
        signal.signal(signal.SIGINT, previous)
