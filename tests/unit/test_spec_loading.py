"""Loading real specs: YAML 1.2 reading, located validation errors, lenient loads, Swagger 2.0, shared $refs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from mockserver.spec import SpecError, SpecIndex, load_spec, spec_problems
from mockserver.spec.bundle import bundle
from mockserver.spec.loader import clean_digest, spec_digest
from mockserver.spec.resolve import SchemaResolver
from mockserver.spec.yaml12 import load_yaml
from mockserver.validation import compile_schema

DOCKER_SWAGGER = ROOT / "tests" / "specs" / "docker-engine" / "swagger.yaml"

YAML_11_QUIRKS = """\
openapi: 3.0.3
info: {title: Quirks, version: 2024-01-01}
paths:
  /things:
    get:
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {type: string, enum: [yes, no, on, off]}
              example: 2024-01-31
        default: {description: error}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_11_quirks_load_as_a_json_reader_would(tmp_path: Path) -> None:
    document = load_spec(write(tmp_path, "quirks.yaml", YAML_11_QUIRKS))
    assert document["info"]["version"] == "2024-01-01"  # a string, not a date
    responses = document["paths"]["/things"]["get"]["responses"]
    assert list(responses) == ["200", "default"]  # the unquoted code is a string key
    content = responses["200"]["content"]["application/json"]
    assert content["schema"]["enum"] == ["yes", "no", "on", "off"]  # not booleans
    assert content["example"] == "2024-01-31"


def test_yaml_12_core_scalars_are_typed_and_the_rest_stay_strings() -> None:
    loaded = load_yaml("a: 017\nb: 0o17\nc: 0x1F\nd: 1_000\ne: 1:20\nf: true\ng: ~\nh: 1.5e3\n2: two\nnull: k\n")
    assert loaded == {
        "a": 17,
        "b": 15,
        "c": 31,
        "d": "1_000",
        "e": "1:20",
        "f": True,
        "g": None,
        "h": 1500.0,
        "2": "two",
        "null": "k",
    }


def test_yaml_merge_keys_still_work() -> None:
    assert load_yaml("base: &b {x: 1}\nmore: {<<: *b, y: 2}\n")["more"] == {"x": 1, "y": 2}


def test_a_validation_error_names_its_location(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", YAML_11_QUIRKS.replace("description: ok", "summary: no description"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert "at /paths/~1things/get/responses/200" in message
    assert "\n" not in message
    assert "--lenient" not in message  # one problem only: nothing more to list


BAD_DEFAULT = """\
openapi: 3.0.3
info: {title: Defaults, version: "1"}
paths:
  /things:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
components:
  schemas:
    Thing:
      type: object
      properties:
        archived: {type: boolean, default: "false"}
"""


def test_a_default_that_breaks_its_schema_is_located_where_it_is_written(tmp_path: Path) -> None:
    """The library checks defaults with a fresh validator: its errors had no path ("invalid at /")."""
    (problem,) = spec_problems(write(tmp_path, "defaults.yaml", BAD_DEFAULT))
    assert problem.location == "/components/schemas/Thing/properties/archived/default"
    assert "'false' is not of type 'boolean'" in problem.message


def test_a_lenient_load_serves_the_document_and_lists_every_problem(tmp_path: Path) -> None:
    broken = YAML_11_QUIRKS.replace(", version: 2024-01-01", "").replace("description: error", "summary: e")
    path = write(tmp_path, "bad.yaml", broken)
    with pytest.raises(SpecError, match="and 1 more problem; --lenient serves it anyway"):
        load_spec(path)
    document = load_spec(path, lenient=True)
    assert "/things" in SpecIndex.build(document).by_operation_id["get_things"].path
    locations = [problem.location for problem in spec_problems(path)]
    assert locations == ["/info", "/paths/~1things/get/responses/default"]
    assert "version" in str(spec_problems(path)[0])


def test_a_spec_whose_digest_checked_clean_before_is_not_checked_again(tmp_path: Path) -> None:
    """A seeded database notes the digest of the spec it served; only a file with those very bytes skips the check."""
    clean = write(tmp_path, "clean.yaml", YAML_11_QUIRKS)
    load_spec(clean)
    digest = clean_digest(clean)
    assert digest == spec_digest(clean.read_bytes())
    broken = write(tmp_path, "broken.yaml", YAML_11_QUIRKS.replace("description: ok", "summary: no description"))
    with pytest.raises(SpecError, match="is invalid"):  # another file's digest vouches for nothing
        load_spec(broken, checked=digest)
    assert clean_digest(broken) is None  # a spec with a problem is never noted as clean
    vouched = write(tmp_path, "vouched.yaml", YAML_11_QUIRKS.replace("description: ok", "summary: no description"))
    assert "/things" in load_spec(vouched, checked=spec_digest(vouched.read_bytes()))["paths"]  # not checked


def test_swagger_2_is_refused_with_the_command_that_converts_it() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(DOCKER_SWAGGER)
    converted = DOCKER_SWAGGER.with_name("swagger.openapi.json")
    assert f"npx swagger2openapi {DOCKER_SWAGGER} -o {converted}" in str(caught.value)
    assert f"mockserver --spec {converted}" in str(caught.value)


def test_a_dangling_ref_is_a_spec_error_not_a_traceback() -> None:
    document = {"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/nowhere"}}}}}}
    with pytest.raises(SpecError, match=r"\$ref #/nowhere points at nothing"):
        SpecIndex.build(document)


def diamond_chain(depth: int) -> dict[str, Any]:
    """Schemas S0..Sn where each refers to the next twice: copied out, S0 would hold 2**n copies of Sn."""
    schemas: dict[str, Any] = {f"S{depth}": {"type": "object", "properties": {"leaf": {"type": "integer"}}}}
    for level in range(depth):
        following = {"$ref": f"#/components/schemas/S{level + 1}"}
        schemas[f"S{level}"] = {"type": "object", "properties": {"left": following, "right": dict(following)}}
    return {"components": {"schemas": schemas}}


def test_refs_resolve_to_shared_objects_not_copies() -> None:
    resolver = SchemaResolver(diamond_chain(40))
    root = resolver.resolve({"$ref": "#/components/schemas/S0"})
    assert root["properties"]["left"] is root["properties"]["right"]
    assert resolver.resolve(root) is root  # resolving a resolution again costs nothing


def test_a_schema_shared_a_trillion_ways_compiles_once_per_node() -> None:
    # Expanded, the 40-level diamond is 2**40 nodes: a copy would never finish; shared, it is 40 definitions.
    root = SchemaResolver(diamond_chain(40)).resolve({"$ref": "#/components/schemas/S0"})
    bundled = bundle(root)
    assert isinstance(bundled, dict)
    assert len(bundled["$defs"]) == 40
    validator = compile_schema(root)
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        deep = {"left": deep, "right": {}}
    assert validator.is_valid(deep)
    deep_bad = {"leaf": "one"}
    for _ in range(40):
        deep_bad = {"left": {}, "right": deep_bad}
    assert not validator.is_valid(deep_bad)


def test_the_stripe_spec_indexes_and_validates_by_reference() -> None:
    index = SpecIndex.build(load_spec(ROOT / "tests" / "specs" / "stripe" / "spec3.json", check=False))
    customer = index.by_operation_id["GetCustomersCustomer"].success.json_schema
    assert customer is not None
    validator = compile_schema(customer)
    assert not validator.is_valid({"id": 1})
