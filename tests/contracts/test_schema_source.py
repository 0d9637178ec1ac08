"""A spec parsed once per file version gives the schema Schemathesis's own loader gives, a fresh copy each load."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.errors import LoaderError

from contracts import schema_source

ROOT = Path(__file__).resolve().parents[2]
SMALL = """openapi: 3.0.3
info: {title: Small, version: "1"}
paths:
  /things:
    get:
      parameters:
        - {name: on, in: query, schema: {type: string, example: 2026-06-15}}
      responses:
        200: {description: OK}
"""


def test_the_schema_is_the_one_schemathesis_parses_itself() -> None:
    config = SchemathesisConfig()
    for path in (ROOT / "openapi.yaml", ROOT / "tests" / "specs" / "small" / "auth-schemes.yaml"):
        ours, theirs = schema_source.from_path(path, config), schemathesis.openapi.from_path(path, config=config)
        assert ours.raw_schema == theirs.raw_schema
        assert ours.location == theirs.location


def test_yaml_1_1_booleans_and_dates_stay_strings_as_schemathesis_reads_them(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SMALL, encoding="utf-8")
    (parameter,) = schema_source.from_path(spec, SchemathesisConfig()).raw_schema["paths"]["/things"]["get"][
        "parameters"
    ]
    assert parameter["name"] == "on"
    assert parameter["schema"]["example"] == "2026-06-15"


def test_each_load_is_a_copy_of_its_own_and_an_edited_file_is_read_anew(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SMALL, encoding="utf-8")
    first = schema_source.from_path(spec, SchemathesisConfig())
    first.raw_schema["paths"].clear()  # Schemathesis changes its document as it infers links, for one
    assert "/things" in schema_source.from_path(spec, SchemathesisConfig()).raw_schema["paths"]
    spec.write_text(SMALL.replace("/things", "/other-things"), encoding="utf-8")
    assert list(schema_source.from_path(spec, SchemathesisConfig()).raw_schema["paths"]) == ["/other-things"]


def test_a_file_that_does_not_parse_is_a_loader_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("openapi: [3.0.3\n", encoding="utf-8")
    with pytest.raises(LoaderError):
        schema_source.from_path(spec, SchemathesisConfig())
