"""The unmodified sandbox passes every suite; run again with the same seed, the suites give the same JSON report.

This is the project's one run of every suite against the unmodified sandbox (test_variants.py runs each
faulty variant through the suite that must catch it).

Each run starts a fresh sandbox (seed 1, as every variant's) and runs suites through the ``contracts run``
command with seed 7, ``--max-examples 1`` and one round of state machines (a larger bound or more rounds send
more of the same generated requests, they do not change what is compared; each suite's own tests run it on the
sandbox with more). The first run has every registered suite; the second only those that no other test runs
twice with one seed (conformance, security and the rules machine each have a same-seed test of their own, and the
stateful suite has one below, with one round of state machines), and they come first in both runs, so each meets
the sandbox in the same state.
Their entries of the two reports are compared.
The entries may differ only in timings: the ``seconds`` and ``started_at`` fields, durations quoted in text
(``resets in 2023 s``, ``+0.24 s``), and what two checks saw of the target's timing: the webhooks suite of its
retry schedule (the receiver answers 500 until the gaps between attempts have grown, so how many attempts came,
and how often the suite asked for deliveries while it waited, are timings) and the idempotency concurrency
check of a race (five same-key requests at once: which of them find the first in progress, 409, and which
find it done, 201, is a timing). Of those, the checks' ``reason`` and their suite's request counts by status
are left out; their outcomes and failures stay. And the sandbox's free port, which each fresh sandbox picks
anew. Everything else must be the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from faulty import WHOLE_RUN_WEBHOOK_WAIT, serve

from contracts import builtin, stateful
from contracts.cli import main

pytestmark = pytest.mark.live

TIMING_FIELDS = frozenset({"seconds", "started_at"})
DURATION = re.compile(r"\+?\b\d+(?:\.\d+)? s\b")


# Checks whose traffic follows the target's timing (None: every check of the suite), see the module's docstring.
TIMING_DRIVEN: dict[str, set[str] | None] = {"webhooks": None, "idempotency": {"idempotency/concurrency"}}
# Suites another test runs twice with one seed and compares (test_conformance.py, test_security.py, test_machine.py,
# and the stateful suite's test below).
SAME_SEED_TESTED = ["conformance", "security", "rules", "stateful"]


def report_without_timings(report: dict[str, Any], root: str) -> Any:
    """A JSON report without timings (see the module's docstring); ``root`` (the sandbox's URL) as ``ROOT``."""
    for suite in report["suites"]:
        if suite["name"] in TIMING_DRIVEN:
            suite["requests"].pop("status")
    for check in report["checks"]:
        names = TIMING_DRIVEN.get(check["suite"], set())
        if check["suite"] in TIMING_DRIVEN and (names is None or check["name"] in names):
            check.pop("reason")
    return without_timings(report, root)


def without_timings(value: Any, root: str) -> Any:
    """``value`` without timing fields, durations in text replaced by ``<t> s``, and ``root`` by ``ROOT``."""
    if isinstance(value, dict):
        return {key: without_timings(inner, root) for key, inner in value.items() if key not in TIMING_FIELDS}
    if isinstance(value, list):
        return [without_timings(inner, root) for inner in value]
    if isinstance(value, str):
        return DURATION.sub("<t> s", value.replace(root, "ROOT"))
    return value


def run_fresh(folder: Path, suites: list[str]) -> Any:
    """``suites`` in order against a fresh sandbox with seed 7; the JSON report, timings removed."""
    report = folder / "report.json"
    with serve() as base_url:
        args = ["run", "--base-url", base_url, "--suite", ",".join(suites), "--seed", "7", "--max-examples", "1"]
        args += ["--webhook-wait", str(WHOLE_RUN_WEBHOOK_WAIT)]  # retries behind a backlog, on a slow machine
        code = main([*args, "--json", str(report)])
    assert code == 0, f"the unmodified sandbox failed a suite (exit {code})"
    return report_without_timings(json.loads(report.read_text(encoding="utf-8")), base_url.rsplit("/api/", 1)[0])


def entries_of(report: Any, suites: list[str]) -> Any:
    """The report's entries for ``suites``: each suite's summary and its checks."""
    return {
        "suites": [suite for suite in report["suites"] if suite["name"] in suites],
        "checks": [check for check in report["checks"] if check["suite"] in suites],
    }


def differences(first: Any, second: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as ``/path: a != b`` lines."""
    if type(first) is not type(second):
        return [f"{path}: {first!r:.200} != {second!r:.200}"]
    if isinstance(first, dict):
        keys = sorted(set(first) | set(second))
        return [line for key in keys for line in differences(first.get(key), second.get(key), f"{path}/{key}")]
    if isinstance(first, list):
        found = [f"{path}: {len(first)} items != {len(second)}"] if len(first) != len(second) else []
        return found + [
            line
            for i, (a, b) in enumerate(zip(first, second, strict=False))
            for line in differences(a, b, f"{path}/{i}")
        ]
    return [] if first == second else [f"{path}: {first!r:.200} != {second!r:.200}"]


def test_the_unmodified_sandbox_passes_every_suite_and_a_second_run_gives_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stateful, "ROUNDS", 1)
    every = builtin.suites().names()
    again = [name for name in every if name not in SAME_SEED_TESTED]
    assert again, "every suite is left out of the second run"
    first = run_fresh(tmp_path / "first", [*again, *SAME_SEED_TESTED])
    second = run_fresh(tmp_path / "second", again)
    assert first["ok"], first["verdict"]
    assert {suite["name"] for suite in first["suites"]} == set(every)
    assert [suite["name"] for suite in second["suites"]] == again
    found = differences(entries_of(first, again), entries_of(second, again))
    assert not found, "the two reports differ:\n" + "\n".join(found)


def test_the_stateful_suite_gives_the_same_report_twice_with_one_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One round of state machines (each round is seeded from the seed and its number, as the first is)."""
    monkeypatch.setattr(stateful, "ROUNDS", 1)
    first = run_fresh(tmp_path / "first", ["stateful"])
    second = run_fresh(tmp_path / "second", ["stateful"])
    (suite,) = first["suites"]
    assert suite["requests"]["made"] > 100, suite  # a real walk, not a skipped suite
    found = differences(entries_of(first, ["stateful"]), entries_of(second, ["stateful"]))
    assert not found, "the two reports differ:\n" + "\n".join(found)
