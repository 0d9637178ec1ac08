"""Unit tests for mockserver.spec.conform: a spec's own values served in the types its schema declares."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.spec.conform import conform

ACCOUNT = {
    "type": "object",
    "properties": {
        "HasAttachments": {"type": "boolean", "default": "false"},
        "Total": {"type": "number"},
        "Units": {"type": "integer"},
        "ReceiptNumber": {"type": "string"},
        "Lines": {"type": "array", "items": {"type": "object", "properties": {"Amount": {"type": "number"}}}},
        "Free": {},
    },
}


def test_an_example_written_in_the_wrong_types_is_served_in_the_schemas() -> None:
    """Xero's examples: money as strings, a boolean default as a string, a number in a string field."""
    example = {
        "HasAttachments": "false",
        "Total": "50.00",
        "Units": "3",
        "ReceiptNumber": 1,
        "Lines": [{"Amount": "12.5"}],
        "Free": "kept",
        "Unknown": "1",
    }
    assert conform(example, ACCOUNT) == {
        "HasAttachments": False,
        "Total": 50.0,
        "Units": 3,
        "ReceiptNumber": "1",
        "Lines": [{"Amount": 12.5}],
        "Free": "kept",
        "Unknown": "1",
    }


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        ("maybe", {"type": "boolean"}),  # no lossless conversion: left for validation to report
        ("12abc", {"type": "number"}),
        ("1.5", {"type": "integer"}),
        ("nan", {"type": "number"}),
        (3, {"type": "number"}),  # already fits
        (2.0, {"type": "integer"}),
        (None, {"type": "string", "nullable": True}),
        ({"a": 1}, {"type": "string"}),
        ("x", {"anyOf": [{"type": "integer"}]}),  # no declared type to convert to
    ],
)
def test_values_that_fit_or_cannot_be_converted_are_unchanged(value: Any, schema: dict[str, Any]) -> None:
    assert conform(value, schema) == value


def test_a_boolean_in_a_string_field_is_spelled_as_json_spells_it() -> None:
    assert conform(True, {"type": "string"}) == "true"
