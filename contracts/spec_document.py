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
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

# PyYAML's safe loader, parsing in libyaml's C code where PyYAML has it (about ten times faster).
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read(path: str | os.PathLike[str]) -> Any:
    """The document in ``path`` (JSON read as JSON, anything else as YAML).

    Raises OSError when it cannot be read, ValueError or yaml.YAMLError when it does not parse.
    """
    resolved = Path(path).resolve()
    status = resolved.stat()
    return pickle.loads(_parsed(resolved, status.st_size, status.st_mtime_ns))  # noqa: S301 - pickled here


@lru_cache(maxsize=8)
def _parsed(path: Path, size: int, modified_ns: int) -> bytes:
    """The parsed document, pickled (a cheap way to hand out deep copies); keyed by the file's identity."""
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=LOADER)  # noqa: S506
    return pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)
