"""Reading the Prefer header (RFC 7240): the preferences a mock honours, the rest ignored."""

from __future__ import annotations

import pytest

from mockserver.behaviours.preferred import Preferences
from mockserver.errors import BadRequest
from mockserver.platform.prefer import read_preferences


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], Preferences()),
        (["code=404"], Preferences(code=404)),
        (["CODE = 404 ; detail=x"], Preferences(code=404)),
        (["code=401, example=expired"], Preferences(code=401, example="expired")),
        (['example="a, b; c"'], Preferences(example="a, b; c")),
        (["example=Expired"], Preferences(example="Expired")),  # a name keeps its case
        (["dynamic=true"], Preferences(dynamic=True)),
        (["dynamic=FALSE"], Preferences()),
        (["dynamic"], Preferences(dynamic=True)),
        (["code=200, code=404"], Preferences(code=200)),  # the first counts (RFC 7240, section 2)
        (["code=201", "example=default, code=500"], Preferences(code=201, example="default")),
        (["return=minimal, respond-async, wait=10"], Preferences()),
        ([";;, =x,,"], Preferences()),
    ],
)
def test_preferences_are_read_as_rfc_7240_writes_them(lines: list[str], expected: Preferences) -> None:
    assert read_preferences(lines) == expected


def test_only_code_example_and_dynamic_ask_for_an_answer_from_the_spec() -> None:
    assert not read_preferences(["return=minimal, dynamic=false"]).asked
    assert read_preferences(["dynamic"]).asked
    assert read_preferences(["example=x"]).asked


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("code=abc", "'abc'"),
        ("code=99", "'99'"),
        ("code=600", "'600'"),
        ("code", "no value"),
        ("dynamic=yes", "true or false"),
        ('example=""', "name of a documented example"),
    ],
)
def test_a_known_preference_without_a_usable_value_is_400_saying_why(line: str, said: str) -> None:
    with pytest.raises(BadRequest) as refused:
        read_preferences([line])
    assert said in refused.value.message
