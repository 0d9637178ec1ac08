"""writeOnly fields below a record's top level: found in the spec's schema or a response view, and left out."""

from __future__ import annotations

from mockserver.behaviours.hiding import WriteOnlyFinder, without_hidden
from mockserver.spec.resolve import response_view

SIGNER = {"type": "object", "properties": {"email": {"type": "string"}, "password": {"writeOnly": True}}}
SIGN_REQUEST = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "writeOnly": True},
        "signers": {"type": "array", "items": SIGNER},
        "owner": {"anyOf": [SIGNER, {"type": "null"}]},
        "name": {"type": "string"},
    },
}
RECORD = {
    "token": "t",
    "name": "Lease",
    "signers": [{"email": "a@example.com", "password": "p"}, {"email": "b@example.com"}],
    "owner": {"email": "o@example.com", "password": "p"},
}


def test_the_spec_schema_and_its_response_view_name_the_same_nested_fields() -> None:
    expected = {"signers": {"password": None}, "owner": {"password": None}}
    assert WriteOnlyFinder().inside(SIGN_REQUEST) == expected
    assert WriteOnlyFinder().inside(response_view(SIGN_REQUEST)) == expected


def test_nested_fields_are_left_out_of_a_copy_and_the_top_level_is_left_to_the_caller() -> None:
    shown = without_hidden(RECORD, WriteOnlyFinder().inside(SIGN_REQUEST))
    assert shown == {
        "token": "t",
        "name": "Lease",
        "signers": [{"email": "a@example.com"}, {"email": "b@example.com"}],
        "owner": {"email": "o@example.com"},
    }
    assert RECORD["signers"][0]["password"] == "p"  # the stored record is untouched


def test_a_schema_that_contains_itself_hides_its_field_at_every_depth() -> None:
    node: dict[str, object] = {"type": "object", "properties": {"child": None, "secret": {"writeOnly": True}}}
    node["properties"]["child"] = node  # type: ignore[index]
    hidden = WriteOnlyFinder().inside({"properties": {"tree": node}})
    tree = {"name": "a", "secret": "s", "child": {"name": "b", "secret": "s", "child": {"name": "c", "secret": "s"}}}
    assert without_hidden({"tree": tree}, hidden) == {
        "tree": {"name": "a", "child": {"name": "b", "child": {"name": "c"}}}
    }


def test_a_schema_that_contains_itself_and_forbids_nothing_hides_nothing() -> None:
    node: dict[str, object] = {"type": "object", "properties": {"child": None, "name": {"type": "string"}}}
    node["properties"]["child"] = node  # type: ignore[index]
    assert WriteOnlyFinder().inside({"properties": {"tree": node, "list": {"type": "array", "items": node}}}) == {}
