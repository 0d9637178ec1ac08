"""openapi.yaml passes Spectral and Redocly with no error and no warning, and openapi-typescript's types compile.

The tools run through ``npx`` at pinned versions (fetched from the npm registry on first use), with the
ruleset and configuration kept in the repository (.spectral.yaml, redocly.yaml). Skipped where npx is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(shutil.which("npx") is None, reason="npx (Node.js) is not installed"),
]

SPECTRAL = "@stoplight/spectral-cli@6.16.3"
REDOCLY = "@redocly/cli@2.77.0"
OPENAPI_TYPESCRIPT = "openapi-typescript@7.13.0"
TYPESCRIPT = "typescript@5.9.3"

# The README's create body, and a read of members every response holds, checked by the TypeScript compiler.
README_CLIENT = """
import type { components } from "./invoicing";

const body: components["schemas"]["InvoiceCreate"] = {
  customer_id: 1,
  invoice_date: "2026-11-21",
  due_date: "2026-12-21",
  items: [{ name: "Web Development", quantity: 10, price: 15000, tax_rate: 10 }],
};

export function owed(invoice: components["schemas"]["Invoice"]): number {
  return invoice.due_amount + invoice.items.length + invoice.id;
}

export function problem(error: components["schemas"]["ValidationError"]): string[] {
  return Object.keys(error.errors);
}

export const sent = body;
"""


_OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH")


def _npx(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a pinned npm tool; skip (not fail) when npm cannot fetch it."""
    environment = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    command = [str(shutil.which("npx")), "--yes", *args]
    run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180, check=False, env=environment)
    if run.returncode != 0 and any(code in run.stderr for code in _OFFLINE):
        pytest.skip(f"npx could not fetch {args[0]} from the npm registry")
    return run


def test_spectral_reports_nothing_with_the_repository_ruleset(tmp_path: Path) -> None:
    report = tmp_path / "spectral.json"
    run = _npx(SPECTRAL, "lint", "openapi.yaml", "--ruleset", ".spectral.yaml", "--format", "json", "--output",
               str(report), "--fail-severity", "hint")  # fmt: skip
    assert report.exists(), run.stdout + run.stderr
    problems: list[dict[str, Any]] = json.loads(report.read_text())
    assert problems == [], "\n".join(f"{p['code']} {p['path']}: {p['message']}" for p in problems)
    assert run.returncode == 0, run.stdout + run.stderr


def test_redocly_reports_no_error_and_no_warning_with_the_repository_config() -> None:
    run = _npx(REDOCLY, "lint", "openapi.yaml", "--config", "redocly.yaml", "--format", "json")
    start = run.stdout.find("{")
    assert start >= 0, run.stdout + run.stderr
    report = json.loads(run.stdout[start:])
    messages = [f"{p['ruleId']} {p['location'][0]['pointer']}: {p['message']}" for p in report["problems"]]
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, "\n".join(messages)
    assert run.returncode == 0, run.stdout + run.stderr


def test_openapi_typescript_types_accept_the_readme_body_and_type_responses_fully(tmp_path: Path) -> None:
    generated = _npx(OPENAPI_TYPESCRIPT, str(ROOT / "openapi.yaml"), "--default-non-nullable=false", "--output",
                     str(tmp_path / "invoicing.d.ts"))  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "warn" not in (generated.stdout + generated.stderr).lower(), generated.stdout + generated.stderr
    (tmp_path / "client.ts").write_text(README_CLIENT)

    compiled = _npx("-p", TYPESCRIPT, "tsc", "--noEmit", "--strict", "client.ts", cwd=tmp_path)

    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
