"""The spec as Schemathesis parses it, parsed once per process and file version; each load gets a fresh copy.

A run loads its spec with Schemathesis several times (the conformance suite twice, the stateful suite once per
round, every other suite once), and parsing is most of a load: 0.2 s of CPU for openapi.yaml, seconds for a
large foreign spec, against 10 ms for a copy of the parsed document. The document is parsed by Schemathesis's own
parser (YAML 1.2 booleans, dates left as strings), never ``spec_document``'s, so the schema is the one
``schemathesis.openapi.from_path`` would give. Keyed by the file's path, size and modification time, as
``spec_document`` is: an edited spec is parsed anew.
"""

from __future__ import annotations

import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.loaders import detect_content_type, load_content
from schemathesis.schemas import BaseSchema


def from_path(path: Path, config: SchemathesisConfig) -> BaseSchema:
    """``schemathesis.openapi.from_path(path, config=config)``, the file parsed at most once per version.

    Raises what ``from_path`` raises: OSError when the file cannot be read, ``LoaderError`` when it does not parse
    or is no OpenAPI document.
    """
    resolved = path.resolve()
    status = resolved.stat()
    document = pickle.loads(_parsed(resolved, status.st_size, status.st_mtime_ns))  # noqa: S301 - pickled here
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.location = path.absolute().as_uri()  # as from_path sets it: relative $refs resolve next to the file
    return schema


@lru_cache(maxsize=8)
def _parsed(path: Path, size: int, modified_ns: int) -> bytes:
    """The document Schemathesis parses from ``path``, pickled (a cheap deep copy per load)."""
    document: Any = load_content(path.read_text(encoding="utf-8"), detect_content_type(path=str(path)))
    return pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)
