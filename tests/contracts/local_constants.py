"""A module of fresh constants loaded into the process, as a user's script or another test would load one.

Hypothesis draws some strings and numbers from the source of every local module loaded: a run that drew from
them would send other requests with the same seed once this module is loaded (``contracts.generation``).
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NAME = "loaded_between_two_runs"


@contextmanager
def another_local_module(folder: Path) -> Iterator[None]:
    """While inside, a local module with a few hundred string and integer constants is in ``sys.modules``.

    The constants are new to the process (made of ``folder``'s name): ones it had loaded before would add nothing.
    The words are short, so that fields with a small ``maxLength`` may be drawn from them too.
    """
    offset = zlib.crc32(folder.name.encode()) % 1_000_000
    words = ", ".join(repr(f"{letter}{n}{offset:x}") for letter in "acemnpz" for n in range(40))
    numbers = ", ".join(str(offset + n) for n in range(-300, 3000, 7))
    (folder / f"{NAME}.py").write_text(f"WORDS = [{words}]\nNUMBERS = [{numbers}]\n", encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        __import__(NAME)
        yield
    finally:
        sys.modules.pop(NAME, None)
        sys.path.remove(str(folder))
