"""The stock Schemathesis CLI against a live strict sandbox: every operation, every check."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ACME_FULL, API, ROOT, LiveServer

pytestmark = pytest.mark.live


def failed_cases(report_dir: Path) -> list[str]:
    """The test cases the JUnit report marks as failed or errored."""
    failed = []
    for report in report_dir.glob("*.xml"):
        for case in ET.parse(report).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(case.get("name", "?"))
    return failed


def test_schemathesis_finds_no_failure(live_server: LiveServer, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        "openapi.yaml",
        "--url",
        f"{live_server.base}{API}",
        "-H",
        f"Authorization: Bearer {ACME_FULL}",
        "--seed",
        "1",
        "-n",
        "10",
        "-w",
        "1",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    # From the repository root, so schemathesis.toml (422 is a conformant answer to valid data) applies.
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"st run exited {result.returncode}; failed: {failed_cases(tmp_path)}\n" + output[-8000:]
    )
    assert list(tmp_path.glob("*.xml")), "no JUnit report was written"
