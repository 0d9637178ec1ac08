"""The README's "Driving the sandbox from your tests" example, run as it is printed, so it can never drift.

The code between ``<!-- control-example:start -->`` and ``<!-- control-example:end -->`` is written
to a file of its own and run by a separate pytest, as a reader would run it: against a real sandbox
named by SANDBOX_URL and SANDBOX_ADMIN_TOKEN, with nothing of this repository's test set-up.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, LiveServer

pytestmark = pytest.mark.live

ADMIN_TOKEN = "readme-admin-token-8d41"
BLOCK = re.compile(r"<!-- control-example:start -->\n```python\n(.*?)```\n<!-- control-example:end -->", re.S)


def readme_example() -> str:
    """The one python block between the README's control-example markers."""
    blocks = BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 1, "README.md needs exactly one python block between the control-example markers"
    return str(blocks[0])


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LiveServer]:
    server = LiveServer("--admin-token", ADMIN_TOKEN, "--quiet")
    yield server
    server.stop()


def test_the_readme_example_passes_against_a_running_sandbox(
    sandbox: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = readme_example()
    tests = re.findall(r"^def (test_\w+)\(", code, re.M)
    assert len(tests) >= 3, tests
    (tmp_path / "test_sandbox_example.py").write_text(code, encoding="utf-8")
    monkeypatch.setenv("SANDBOX_URL", sandbox.base)
    monkeypatch.setenv("SANDBOX_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the example needs pytest alone; starts faster
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)  # the options of this run (say ``-n 4``) are not the user's
    # Twice: the second run passes only if the fixture really puts the sandbox back (one "Lost Answer Ltd").
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        for name in tests:
            assert f"::{name} PASSED" in result.stdout, result.stdout
        assert f"{len(tests)} passed" in result.stdout
