"""Report a run: a progress line per check, a summary table, JUnit XML for CI, and JSON."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TextIO
from xml.etree import ElementTree as ET

from contracts.results import CheckResult, Outcome, Report

_MARK = {Outcome.PASSED: "PASS", Outcome.FAILED: "FAIL", Outcome.SKIPPED: "SKIP"}


def progress(check: CheckResult, out: TextIO = sys.stdout) -> None:
    """One line per finished check, as it finishes."""
    extra = f"  ({check.reason})" if check.reason else ""
    out.write(f"  {_MARK[check.outcome]}  {check.suite:<12} {check.name}{extra}\n")
    out.flush()


def failures_text(report: Report) -> str:
    """Every failure: the rule it broke, why, a curl reproduction and the target's answer."""
    blocks: list[str] = []
    for check in report.checks:
        for failure in check.failures:
            lines = [f"[{check.suite}] {check.name}", f"  rule: {failure.rule}", f"  why:  {failure.message}"]
            if failure.reproduction:
                lines.append(f"  reproduce: {failure.reproduction}")
            if failure.response:
                lines.append("  response:  " + failure.response.replace("\n", "\n             "))
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def summary_table(report: Report) -> str:
    """Suite | checks | passed | failed | skipped, and a total row."""
    rows: list[tuple[str, ...]] = [("suite", "checks", "passed", "failed", "skipped")]
    totals = [0, 0, 0, 0]
    for name in report.suites():
        checks = report.of(name)
        counts = [
            len(checks),
            sum(c.outcome is Outcome.PASSED for c in checks),
            sum(c.outcome is Outcome.FAILED for c in checks),
            sum(c.outcome is Outcome.SKIPPED for c in checks),
        ]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        rows.append((name, *map(str, counts)))
    rows.append(("total", *map(str, totals)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_junit(report: Report, path: Path) -> None:
    """JUnit XML: a testsuite per suite, a testcase per check (failures and skips as JUnit expects)."""
    root = ET.Element("testsuites", name="contracts")
    for name in report.suites():
        checks = report.of(name)
        element = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(checks)),
            failures=str(sum(c.outcome is Outcome.FAILED for c in checks)),
            skipped=str(sum(c.outcome is Outcome.SKIPPED for c in checks)),
            time=f"{sum(c.seconds for c in checks):.3f}",
        )
        for check in checks:
            case = ET.SubElement(element, "testcase", classname=name, name=check.name, time=f"{check.seconds:.3f}")
            if check.outcome is Outcome.FAILED:
                for failure in check.failures:
                    node = ET.SubElement(
                        case, "failure", message=f"{failure.rule}: {failure.message}", type=failure.rule
                    )
                    node.text = f"{failure.reproduction}\n\n{failure.response}".strip()
            elif check.outcome is Outcome.SKIPPED:
                ET.SubElement(case, "skipped", message=check.reason)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def write_json(report: Report, path: Path) -> None:
    """The whole report as JSON (checks with their failures)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"ok": report.ok, "checks": [asdict(check) for check in report.checks]}
    path.write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
