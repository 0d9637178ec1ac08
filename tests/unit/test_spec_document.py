"""contracts.spec_document: a spec parsed once, each reader its own copy, an edited file read anew."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from contracts import spec_document


def test_each_read_is_a_copy_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("openapi: 3.0.3\npaths:\n  /things: {}\n", encoding="utf-8")
    first = spec_document.read(path)
    first["paths"]["/changed"] = {}
    assert spec_document.read(path) == {"openapi": "3.0.3", "paths": {"/things": {}}}


def test_an_edited_spec_is_read_anew_even_within_the_same_second(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("info: {title: one}\n", encoding="utf-8")
    assert spec_document.read(path) == {"info": {"title": "one"}}
    stamp = path.stat().st_mtime_ns
    path.write_text("info: {title: two}\n", encoding="utf-8")  # the same size
    os.utime(path, ns=(stamp + 1, stamp + 1))  # one nanosecond later
    assert spec_document.read(path) == {"info": {"title": "two"}}


def test_json_is_read_as_json_and_errors_are_the_parsers(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text('{"openapi": "3.1.0", "paths": {}}', encoding="utf-8")
    assert spec_document.read(path) == {"openapi": "3.1.0", "paths": {}}
    path.write_text('{"openapi": ', encoding="utf-8")
    with pytest.raises(ValueError):
        spec_document.read(path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("paths: [unclosed\n", encoding="utf-8")
    with pytest.raises(yaml.YAMLError):
        spec_document.read(broken)
    with pytest.raises(OSError):
        spec_document.read(tmp_path / "missing.yaml")
