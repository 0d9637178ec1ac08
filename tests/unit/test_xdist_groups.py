"""Under pytest-xdist, the tests of a module that share a module fixture run on one worker (tests/conftest.py)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def shared() -> object:
    """A module fixture, as the contract suites' reports or a sandbox process are."""
    return object()


def test_a_test_with_a_module_fixture_is_in_its_module_group(request: pytest.FixtureRequest, shared: object) -> None:
    if not (os.environ.get("PYTEST_XDIST_WORKER") and request.config.getvalue("loadgroup")):
        pytest.skip("runs in a pytest-xdist worker under --dist loadgroup (the project's default)")
    # xdist sends the tests of one group to one worker; it reads the group from the test's id.
    assert request.node.nodeid.endswith("@tests/unit/test_xdist_groups.py"), request.node.nodeid
