"""Two checkouts served at the same time, each driven by its own wrk: server CPU per request side by side.

On this shared machine a core's speed drifts by a third from one minute to the next, so a change
measured in turns (``bench/store.py --baseline``) can read 10-30% better or worse for reasons not its
own. Here both checkouts serve at once, on fresh copies of the same seeded file, and each round drives
them together for the same seconds: whatever the machine does meanwhile, it does to both. The figure
to compare is the median of the rounds' server CPU per request (each server's whole process tree).

    python bench/duel.py WORKTREE [--scenarios "get one,list 20,create one"] [--rounds 5]
                         [--seconds 5] [--connections 4] [--workers 1] [--size 1k]

WORKTREE is the other checkout, typically ``git worktree add ../base <commit>``. Needs wrk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
from contextlib import ExitStack, suppress
from pathlib import Path

from run import free_port, mockserver_command, server, wrk  # bench/run.py: server, wrk driver
from store import CACHE, SCENARIOS, parse_size, pristine_copy, seeded_file, tree_cpu, tree_pids  # bench/store.py


def pin_tree(pid: int, core: int) -> None:
    """Keep every thread of a process and its descendants on one core (processes it starts later inherit it)."""
    for current in tree_pids(pid):
        with suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                os.sched_setaffinity(int(task.name), {core})


def drive_together(
    ports: dict[str, int], scenario: str, seconds: float, connections: int, cores: dict[str, int] | None = None
) -> dict[str, dict[str, float]]:
    """One wrk per server, all started at once (on its server's core, with ``cores``): requests/s and count each."""
    method, path, body = SCENARIOS[scenario]
    results: dict[str, dict[str, float]] = {}

    def drive(label: str, port: int) -> None:
        if cores is not None:
            os.sched_setaffinity(0, {cores[label]})  # this thread only: the wrk it starts inherits the core
        results[label] = wrk(port, method, path, body, seconds, connections)

    threads = [threading.Thread(target=drive, args=item) for item in ports.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def duel(args: argparse.Namespace, scenario: str, scratch: Path) -> None:
    """Serve both checkouts on fresh copies of one file, then run the rounds and print each and the medians."""
    checkouts: dict[str, Path | None] = {"this": None, "other": args.other}
    seeded = seeded_file(parse_size(args.size))
    ports: dict[str, int] = {}
    pids: dict[str, int] = {}
    cores: dict[str, int] | None = None
    with ExitStack() as stack:
        for label, checkout in checkouts.items():
            folder = scratch / label
            folder.mkdir(exist_ok=True)
            port = free_port()
            flags = ["--db", str(pristine_copy(seeded, folder)), "--workers", str(args.workers)]
            command, env = mockserver_command(checkout, "--port", str(port), "--rate-limit", "1000000000", *flags)
            pids[label] = stack.enter_context(server(command, port, env)).pid
            ports[label] = port
        drive_together(ports, scenario, 1.0, args.connections)  # warm-up: caches, where each kind of request runs
        cpu: dict[str, list[float]] = {label: [] for label in checkouts}
        for round_number in range(1, args.rounds + 1):
            if args.pin:  # the cores swap each round: neither checkout keeps the one the system favours
                cores = {"this": round_number % 2, "other": 1 - round_number % 2}
                for label, pid in pids.items():
                    pin_tree(pid, cores[label])
            before = {label: tree_cpu(pid) for label, pid in pids.items()}
            results = drive_together(ports, scenario, args.seconds, args.connections, cores)
            cells = []
            for label, pid in pids.items():
                ms = (tree_cpu(pid) - before[label]) * 1000 / max(results[label]["requests"], 1)
                cpu[label].append(ms)
                cells.append(f"{label} {results[label]['rps']:>6.0f} req/s {ms:.3f} ms")
            print(f"{scenario:<12} round {round_number}: " + "   ".join(cells), flush=True)
        medians = {label: statistics.median(values) for label, values in cpu.items()}
        change = (medians["this"] / medians["other"] - 1) * 100
        print(
            f"{scenario:<12} median server CPU per request: this {medians['this']:.3f} ms, "
            f"other {medians['other']:.3f} ms ({change:+.1f}%)",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("other", type=Path, help="the other checkout (a worktree of an earlier commit)")
    parser.add_argument("--scenarios", default="get one,list 20,create one", help="which scenarios, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4, help="per server")
    parser.add_argument("--workers", type=int, default=1, help="per server (on a file)")
    parser.add_argument("--size", default="1k", help="records in company 1 of the seeded file")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="each server and its wrk on a core of their own (0 and 1, swapped each round)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/duel.py needs wrk (apt-get install wrk)")
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")
    scratch = Path(tempfile.mkdtemp(dir=CACHE.parent, prefix=".duel-"))
    try:
        for scenario in scenarios:
            duel(args, scenario, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
