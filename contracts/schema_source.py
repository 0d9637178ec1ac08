"""The spec as Schemathesis parses it, parsed once per process and file version; each load gets a fresh copy.

A run loads its spec with Schemathesis several times (the conformance suite twice, the stateful suite once per
round, every other suite once), and parsing is most of a load: 0.2 s of CPU for openapi.yaml, seconds for a
large foreign spec, against 10 ms for a copy of the parsed document. The document is parsed by Schemathesis's own
parser (YAML 1.2 booleans, dates left as strings), never ``spec_document.parse``, so the schema is the one
``schemathesis.openapi.from_path`` would give. Cached by ``spec_document`` (keyed by the file's path, size and
modification time, and the parser): an edited spec is parsed anew.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.loaders import detect_content_type, load_content
from schemathesis.schemas import BaseSchema

from contracts import spec_document


def from_path(path: Path, config: SchemathesisConfig) -> BaseSchema:
    """``schemathesis.openapi.from_path(path, config=config)``, the file parsed at most once per version.

    Raises what ``from_path`` raises: OSError when the file cannot be read, ``LoaderError`` when it does not parse
    or is no OpenAPI document.
    """
    schema = schemathesis.openapi.from_dict(spec_document.read(path, _as_schemathesis_parses), config=config)
    schema.location = path.absolute().as_uri()  # as from_path sets it: relative $refs resolve next to the file
    return schema


def _as_schemathesis_parses(text: str, path: Path) -> Any:
    """The document Schemathesis's ``from_path`` parses from ``text``, read from ``path``."""
    return load_content(text, detect_content_type(path=str(path)))
