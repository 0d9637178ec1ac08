"""How fast the contract harness tests a live sandbox: cases per second and CPU per case, beside the stock CLI.

For each repetition, each side runs against a fresh sandbox (same seed, so the same data) started on a free port:

- ``this``: ``python -m contracts run --suite SUITE`` from this checkout; ``this-w2``: the same with
  ``--workers 2`` (two processes, ``contracts.workers``);
- ``baseline``: the same from another revision's ``contracts/`` (``--baseline REF``: ``git archive REF``
  unpacked in a temporary folder, run with this environment's packages), for before/after in one run;
- ``stock``: Schemathesis's own ``st run`` on the same spec, seed and ``--max-examples``, with the phases the
  suite runs (conformance: examples, coverage, fuzzing; stateful: stateful), one worker, no shrinking.

A case is one request the harness sent and judged: the JSON report's request count for ``contracts`` (its
meter counts every ``case.call``), and the "generated" test cases ``st run`` prints. Neither counts
Schemathesis's own probes. CPU is read from /proc: the client's own (user + system, its children included)
and the sandbox's whole process tree, each divided by the cases; on a shared, noisy machine CPU per case is
the figure to compare, cases per second the one a CI job feels. Linux only (reads /proc).

    python bench/contracts_speed.py [--suites conformance,stateful] [--reps 2] [--baseline REF]
        [--max-examples 25] [--seed 1] [--server-workers 1] [--sides baseline,this,this-w2,stock] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import tree_cpu_seconds
from run import KEY, free_port, server

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
STOCK_PHASES = {"conformance": "examples,coverage,fuzzing", "stateful": "stateful"}
_GENERATED = re.compile(r"(\d+) generated")


def unpack(ref: str, folder: Path) -> Path:
    """``git archive REF`` of this repository, unpacked into ``folder``."""
    archive = folder / "baseline.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=handle, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "checkout", filter="data")
    return folder / "checkout"


def contracts_command(
    checkout: Path | None, suite: str, api: str, args: argparse.Namespace, report: Path, workers: int = 1
) -> list[str]:
    """``contracts run`` from ``checkout`` (this one when None) against ``api``, writing ``report``."""
    start = "import sys; from contracts.cli import main; sys.exit(main())"
    if checkout is not None:
        start = f"import sys; sys.path.insert(0, {str(checkout)!r}); {start}"
    run = ["run", "--base-url", api, "--suite", suite, "--seed", str(args.seed), "--spec", str(ROOT / "openapi.yaml")]
    run += ["--max-examples", str(args.max_examples), "--json", str(report)]
    run += ["--workers", str(workers)] if workers > 1 else []
    return [sys.executable, "-c", start, *run]


def stock_command(suite: str, api: str, args: argparse.Namespace) -> list[str]:
    """``st run`` with the settings the suite uses (workers 1, no shrinking, no example database)."""
    st = str(Path(sys.executable).parent / "st")
    return [
        st, "run", str(ROOT / "openapi.yaml"), "--url", api, "-H", f"Authorization: Bearer {KEY}",
        "--seed", str(args.seed), "-n", str(args.max_examples), "--phases", STOCK_PHASES[suite],
        "--workers", "1", "--generation-database", "none", "--no-shrink",
    ]  # fmt: skip


def measure(side: str, suite: str, args: argparse.Namespace, baseline: Path | None) -> dict[str, Any]:
    """One run of one side on a fresh sandbox: cases, seconds, cases/s, client and server CPU ms per case."""
    port = free_port()
    sandbox = [sys.executable, "-m", "mockserver", "--port", str(port), "--quiet", "--rate-limit", "100000000"]
    database = tempfile.TemporaryDirectory()  # a file for several workers, gone with the run
    if args.server_workers > 1:
        sandbox += ["--workers", str(args.server_workers), "--db", str(Path(database.name) / "bench.db")]
    api = f"http://127.0.0.1:{port}/api/v1"
    with database, server(sandbox, port, timeout=120) as process, tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = stock_command(suite, api, args) if side == "stock" else None
        checkout = baseline if side == "baseline" else None
        command = command or contracts_command(checkout, suite, api, args, report, 2 if side == "this-w2" else 1)
        server_before = tree_cpu_seconds(process.pid)
        client_before = os.times()
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        seconds = time.perf_counter() - started
        client_after = os.times()
        server_cpu = tree_cpu_seconds(process.pid) - server_before
        client_cpu = (client_after.children_user - client_before.children_user) + (
            client_after.children_system - client_before.children_system
        )
        if side == "stock":
            found = _GENERATED.findall(done.stdout)
            cases = int(found[-1]) if found else 0
            verdict = f"exit {done.returncode}"
        else:
            body = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
            cases = sum(s["requests"]["made"] for s in body.get("suites", []))
            verdict = f"exit {done.returncode}: {body.get('verdict', {}).get('status', done.stderr[-200:])}"
    per = max(cases, 1)
    return {
        "side": side,
        "suite": suite,
        "cases": cases,
        "seconds": round(seconds, 2),
        "cases_per_s": round(cases / seconds, 1) if seconds else 0.0,
        "client_cpu_ms": round(client_cpu * 1000 / per, 2),
        "server_cpu_ms": round(server_cpu * 1000 / per, 2),
        "verdict": verdict,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", default="conformance,stateful")
    parser.add_argument("--reps", type=int, default=2, help="alternate the sides this many times")
    parser.add_argument("--baseline", metavar="REF", help="also run contracts/ of this git revision (before/after)")
    parser.add_argument("--sides", default="baseline,this,this-w2,stock", help="which sides to run, in this order")
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-workers", type=int, default=1, help="sandbox workers (>1: on a SQLite file)")
    parser.add_argument("--json", type=Path, help="also write every row here")
    args = parser.parse_args()
    sides = [side for side in args.sides.split(",") if side != "baseline" or args.baseline]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        baseline = unpack(args.baseline, Path(folder)) if args.baseline else None
        header = f"{'side':<9} {'suite':<12} {'rep':>3} {'cases':>6} {'s':>6} {'cases/s':>8}"
        print(f"{header} {'client ms':>9} {'server ms':>9}")
        for rep in range(1, args.reps + 1):
            for suite in args.suites.split(","):
                for side in sides:
                    row = {**measure(side, suite, args, baseline), "rep": rep}
                    rows.append(row)
                    print(
                        f"{side:<9} {suite:<12} {rep:>3} {row['cases']:>6} {row['seconds']:>6.1f} "
                        f"{row['cases_per_s']:>8.1f} {row['client_cpu_ms']:>9.2f} {row['server_cpu_ms']:>9.2f}  "
                        f"{row['verdict']}",
                        flush=True,
                    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
