"""A spec file parsed once per process and handed out as a fresh copy each time it is read.

Every suite reads the spec (its credentials, its view of the operations, the rules' context), and parsing
YAML is slow even with libyaml (0.3 s for a 450 KB spec; 2 s without it); a copy of the parsed document
costs a hundredth of that. The cache is keyed by the file's path, size and modification time, so an edited
spec is read anew; each reader gets its own copy to change as it likes.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

# PyYAML's safe loader, parsing in libyaml's C code where PyYAML has it (about ten times faster).
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str, path: Path) -> Any:
    """A spec's text as a document: JSON read as JSON, anything else as YAML (PyYAML's view of YAML)."""
    return json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=LOADER)  # noqa: S506


def read(path: str | os.PathLike[str], parser: Callable[[str, Path], Any] = parse) -> Any:
    """The document in ``path`` as ``parser`` reads it (by default :func:`parse`); a fresh copy at each call.

    ``parser`` must be a module-level function (it is part of the cache's key). Raises OSError when the file
    cannot be read, and what ``parser`` raises when it does not parse (``parse``: ValueError, yaml.YAMLError).
    """
    resolved = Path(path).resolve()
    status = resolved.stat()
    return pickle.loads(_parsed(resolved, status.st_size, status.st_mtime_ns, parser))  # noqa: S301 - pickled here


@lru_cache(maxsize=8)
def _parsed(path: Path, size: int, modified_ns: int, parser: Callable[[str, Path], Any]) -> bytes:
    """The parsed document, pickled (a cheap way to hand out deep copies); keyed by the file's identity."""
    document = parser(path.read_text(encoding="utf-8"), path)
    return pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)
