"""What the control surface costs a request: server CPU per request with the journal on and off, side by side.

Starts one sandbox per configuration (in memory, one process; on a SQLite file with one worker, or
two whose journal is shared through the database; journal kept, or ``--journal-size 0``), drives each
with ``wrk`` for a few seconds per scenario, and reads the CPU time the server's processes used
from /proc: CPU per request is steadier than requests/s on a shared, noisy machine.
Linux only (reads /proc), and needs ``wrk``.

    python bench/overhead.py [--seconds 5] [--connections 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SCENARIOS, free_port, mockserver_command, server, wrk

TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and every live descendant (workers included)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    total, frontier = 0.0, [root]
    while frontier:
        pid = frontier.pop()
        total += times.get(pid, 0.0)
        frontier.extend(child for child, parent in parents.items() if parent == pid)
    return total


def measure(
    extra: list[str], seconds: float, connections: int, checkout: Path | None = None
) -> dict[str, tuple[float, float]]:
    """(requests/s, server CPU ms per request) of each scenario on a fresh server started with ``extra``."""
    port = free_port()
    command, env = mockserver_command(checkout, "--port", str(port), "--quiet", "--rate-limit", "100000000", *extra)
    results: dict[str, tuple[float, float]] = {}
    with server(command, port, env=env, timeout=120) as process:
        for scenario, (method, path, body) in SCENARIOS.items():
            before = tree_cpu_seconds(process.pid)
            figures = wrk(port, method, path, body, seconds, connections)
            used = tree_cpu_seconds(process.pid) - before
            results[scenario] = (figures["rps"], used * 1000 / max(1.0, figures["requests"]))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the configurations this many times")
    parser.add_argument("--baseline", type=Path, help="also measure this checkout (a worktree of an earlier commit)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/overhead.py needs wrk")
    with tempfile.TemporaryDirectory() as folder:
        configurations = {
            "memory, journal on": [],
            "memory, journal off": ["--journal-size", "0"],
            "file x1, journal on": ["--db", str(Path(folder) / "one.db")],
            "file x2, journal on": ["--db", str(Path(folder) / "on.db"), "--workers", "2"],
            "file x2, journal off": ["--db", str(Path(folder) / "off.db"), "--workers", "2", "--journal-size", "0"],
        }
        runs: dict[str, tuple[list[str], Path | None]] = {name: (extra, None) for name, extra in configurations.items()}
        if args.baseline is not None:
            runs["baseline, memory"] = ([], args.baseline.resolve())
            runs["baseline, file x1"] = (["--db", str(Path(folder) / "baseline-one.db")], args.baseline.resolve())
            runs["baseline, file x2"] = (
                ["--db", str(Path(folder) / "baseline.db"), "--workers", "2"],
                args.baseline.resolve(),
            )
        totals: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for name, (extra, checkout) in runs.items():
                for scenario, figures in measure(extra, args.seconds, args.connections, checkout).items():
                    totals.setdefault((name, scenario), []).append(figures)
                time.sleep(1)
    print(f"{'configuration':<22} {'scenario':<20} {'req/s':>8} {'CPU ms/req':>11}  (best of {args.rounds} rounds)")
    for (name, scenario), rounds in totals.items():
        rps = max(r[0] for r in rounds)
        cpu = min(r[1] for r in rounds)
        print(f"{name:<22} {scenario:<20} {rps:>8.0f} {cpu:>11.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
