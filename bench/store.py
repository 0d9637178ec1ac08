"""The store on real engines: latency and server CPU per request by size, engine and worker count.

For each size (records in company 1) a database file is seeded once with ``mockserver seed`` and
kept in bench/.cache; each engine configuration is then started on a fresh copy of it (so the records
one run creates never count in the next) and driven with wrk from a separate process, side by side
with a bare Flask app on the same server as the ceiling. Server CPU per request is read from /proc
for the server's whole process tree; "idle %" is the whole machine's idle CPU meanwhile (a saturated
server that leaves CPU idle is waiting for something, a lock or a hand-over, rather than computing).

    python bench/store.py [--sizes 1k,100k] [--configs memory,file-1,file-2,pg-2] [--seconds 5]
                          [--postgres postgresql://user@host:port/db] [--scenarios "create one,get one"]
                          [--baseline ../worktree-of-an-earlier-commit] [--rounds 3]

A last scenario ("/health beside 4 busy") measures /health while four clients render searches and PDFs;
"idle" then leaves the server alone and reads its CPU and its threads' wake-ups a second (both should be 0).
On PostgreSQL its figure depends on how the kernel shares the CPUs with a local database's backends
(each is a session of its own, and with scheduler autogroups weighs as much as the whole benchmark):
the header says whether autogroups are on.
With ``--baseline`` every configuration also runs that checkout's code (its spec and fixtures), the two
taking turns ``--rounds`` times on fresh copies of the same file: a change is judged side by side in one
run, never against figures from another hour of this shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from run import KEY, free_port, mockserver_command, server, wrk  # bench/run.py: server, wrk driver, key
from startup import in_memory_databases, reference_indexes, wait_until_whole  # bench/startup.py

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
RECORDS_PER_SCALE = 188  # records seeded in one company at --scale 1
SCENARIOS = {
    "list 20": ("GET", "/api/v1/invoices?limit=20", None),
    "get one": ("GET", "/api/v1/invoices/1", None),
    "filtered + sorted": ("GET", "/api/v1/invoices?status=SENT&sort=-invoice_date&limit=20", None),
    "search": ("GET", "/api/v1/customers?search=son&limit=20", None),
    "create one": ("POST", "/api/v1/customers", '{"name": "Bench Customer", "email": "bench@example.com"}'),
    "invoice pdf": ("GET", "/api/v1/invoices/1/pdf", None),
}
HEALTH_UNDER_LOAD = "/health beside 4 busy"  # (no commas in a name: --scenarios splits on them)
IDLE = "idle"  # after the other scenarios: CPU ms and wake-ups a second with nobody calling
IDLE_SETTLE_SECONDS = 3.0  # longer than any work the server finishes after its last request (the journal's second)
FLASK_CEILING = """
from flask import Flask, jsonify
app = Flask(__name__)
@app.get("/<path:anything>")
@app.post("/<path:anything>")
def anything(anything):
    return jsonify({"data": {"id": 1, "name": "ceiling"}})
"""


def parse_size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([km]?)", text.lower()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1000, "m": 1_000_000}[unit]


def seeded_file(size: int) -> Path:
    """A database file with about ``size`` records in company 1, seeded once and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"state-{size}.db"
    if not path.exists():
        scale = max(size / RECORDS_PER_SCALE, 0.01)
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        for leftover in CACHE.glob(partial.name + "*"):
            leftover.unlink()
        subprocess.run(
            [sys.executable, "-m", "mockserver", "seed", "--db", str(partial), "--scale", f"{scale:.4f}"], check=True
        )
        partial.rename(path)
        for leftover in CACHE.glob(partial.name + "*"):  # its lock file: no process uses it now
            leftover.unlink()
        print(f"  seeded {path.name} (scale {scale:.2f}) in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def tree_pids(pid: int) -> list[int]:
    """A process and its descendants, whichever of their threads started them (a PDF helper is a request thread's)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
    return found


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for current in tree_pids(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def machine_idle() -> tuple[int, int]:
    """The machine's idle and total CPU ticks so far (``/proc/stat``: idle and iowait count as idle)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


def tree_switches(pid: int) -> int:
    """Context switches so far (voluntary and not) of every thread of a process and its descendants."""
    total = 0
    for current in tree_pids(pid):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                status = (task / "status").read_text()
                total += sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
    return total


def idle_cost(pid: int, seconds: float) -> dict[str, float]:
    """What a server costs a second once nobody calls it: CPU and its threads' wake-ups (a laptop's battery)."""
    time.sleep(IDLE_SETTLE_SECONDS)
    cpu, switches = tree_cpu(pid), tree_switches(pid)
    time.sleep(seconds)
    return {
        "cpu_ms": (tree_cpu(pid) - cpu) * 1000 / seconds,
        "wakeups": max(tree_switches(pid) - switches, 0) / seconds,
    }


def scheduler_note() -> str:
    """Whether the kernel groups processes by session when it shares the CPUs (Linux's sched_autogroup)."""
    try:
        enabled = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return "scheduler autogroups: unknown"
    return f"scheduler autogroups: {'on' if enabled else 'off'}"


def measure(pid: int, port: int, scenario: str, seconds: float, connections: int) -> dict[str, float]:
    """One scenario in a steady state: a second of warm-up (caches, where each kind of request runs), then measured."""
    method, path, body = SCENARIOS[scenario]
    wrk(port, method, path, body, 1.0, connections)
    before, (idle, total) = tree_cpu(pid), machine_idle()
    result = wrk(port, method, path, body, seconds, connections)
    result["cpu_ms"] = (tree_cpu(pid) - before) * 1000 / max(result["requests"], 1)
    idle_after, total_after = machine_idle()
    # Idle CPU while the server is saturated: it waits for something (a lock, a hand-over), not for CPU.
    result["idle_pct"] = 100 * (idle_after - idle) / max(total_after - total, 1)
    return result


BUSY_PATHS = ("/api/v1/search?q=an", "/api/v1/invoices/1/pdf", "/api/v1/search?q=inv", "/api/v1/invoices/2/pdf")


def keep_busy(port: int, path: str, stop: EventType) -> None:
    """One busy client: the same request again and again until told to stop."""
    headers = {"Authorization": f"Bearer {KEY}"}
    while not stop.is_set():
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
        urllib.request.urlopen(request, timeout=60).read()


def health_under_load(port: int, seconds: float) -> dict[str, float]:
    """p50/p99 of /health while four clients run searches and render PDFs.

    The busy clients are processes of their own: as threads of this one they held its interpreter
    lock while the probe waited to read its answer, and their wait counted as the server's.
    """
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    clients = [context.Process(target=keep_busy, args=(port, path, stop), daemon=True) for path in BUSY_PATHS]
    for client in clients:
        client.start()
    time.sleep(0.5)  # every client under way
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=60).read()
        latencies.append((time.perf_counter() - began) * 1000)
        time.sleep(0.01)
    stop.set()
    for client in clients:
        client.join(timeout=60)
    latencies.sort()
    return {"p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1]}


def pristine_copy(seeded: Path, folder: Path) -> Path:
    """A copy of a seeded file for one configuration (the last one's copy goes): creates never pile up in the cache."""
    for leftover in folder.iterdir():
        leftover.unlink()
    copy = folder / seeded.name
    for suffix in ("", "-wal"):
        if Path(f"{seeded}{suffix}").exists():
            shutil.copyfile(f"{seeded}{suffix}", f"{copy}{suffix}")
    return copy


def configurations(names: list[str], size: int, postgres: str | None, scratch: Path) -> Iterator[tuple[str, list[str]]]:
    """Each configuration's name and flags; a file configuration gets a fresh copy of the seeded file each time."""
    for name in names:
        if name == "memory":
            yield name, ["--scale", f"{max(size / RECORDS_PER_SCALE, 0.01):.4f}"]
        elif name.startswith("file-"):
            yield name, ["--db", str(pristine_copy(seeded_file(size), scratch)), "--workers", name.split("-")[1]]
        elif name.startswith("pg-") and postgres:
            yield name, ["--db", postgres, "--workers", name.split("-")[1]]


def checkouts(baseline: Path | None, rounds: int) -> list[tuple[str, Path | None]]:
    """The code each run uses, in turn: this checkout (label ""), and the baseline's, ``rounds`` times each."""
    one: list[tuple[str, Path | None]] = [("", None)]
    if baseline is not None:
        one.append(("base ", baseline.resolve()))
    return one * rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1k,100k")
    parser.add_argument("--configs", default="memory,file-1,file-2,pg-2")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: the server's)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the bare Flask app")
    parser.add_argument(
        "--scenarios", default=",".join([*SCENARIOS, HEALTH_UNDER_LOAD, IDLE]), help="which scenarios, comma-separated"
    )
    parser.add_argument("--baseline", type=Path, help="also run this checkout (a worktree of an earlier commit)")
    parser.add_argument("--rounds", type=int, default=1, help="turns each checkout takes per configuration")
    parser.add_argument(
        "--postgres", help="a postgresql:// URL to benchmark (seeded at each size with mockserver seed)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/store.py needs wrk (apt-get install wrk)")
    header = (
        f"{'config':<12} {'size':>6} {'scenario':<21} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms/req':>10}"
        f" {'idle %':>6}"
    )
    ceiling_port = free_port()
    ceiling_folder = tempfile.TemporaryDirectory()  # the ceiling app's module, gone when the run ends
    ceiling = Path(ceiling_folder.name) / "ceiling.py"
    ceiling.write_text(FLASK_CEILING)
    env = {**os.environ, "PYTHONPATH": str(ceiling.parent)}
    granian = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--port",
        str(ceiling_port),
        "--blocking-threads",
        str(args.threads or 8),  # the sandbox's default
        "--log-level",
        "warning",
    ]
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(scenarios) - {*SCENARIOS, HEALTH_UNDER_LOAD, IDLE})
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {[*SCENARIOS, HEALTH_UNDER_LOAD, IDLE]}")
    print(header)
    if HEALTH_UNDER_LOAD in scenarios and any(name.startswith("pg-") for name in args.configs.split(",")):
        print(f"# {scheduler_note()}", flush=True)
    scratch = Path(tempfile.mkdtemp(dir=CACHE.parent, prefix=".run-"))  # on the cache's disk, not a small /tmp
    indexes = reference_indexes(scratch)  # (the folder's files go with the first configuration's copy)
    for workers in () if args.no_ceiling else (1, 2):
        with server([*granian, "--workers", str(workers), "ceiling:app"], ceiling_port, env) as process:
            for scenario in ("get one", "create one"):
                r = measure(process.pid, ceiling_port, scenario, args.seconds, args.connections)
                print(
                    f"{'flask-' + str(workers):<12} {'-':>6} {scenario:<21} {r['rps']:>7.0f} {r['p50_ms']:>7.2f} "
                    f"{r['p99_ms']:>7.2f} {r['cpu_ms']:>10.3f} {r['idle_pct']:>6.1f}",
                    flush=True,
                )
    try:
        for size_text in args.sizes.split(","):
            size = parse_size(size_text)
            for label, checkout in checkouts(args.baseline, args.rounds):
                for name, flags in configurations(args.configs.split(","), size, args.postgres, scratch):
                    run_configuration(args, label + name, checkout, flags, size, size_text, indexes, scenarios)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        ceiling_folder.cleanup()
    return 0


def run_configuration(
    args: argparse.Namespace,
    name: str,
    checkout: Path | None,
    flags: list[str],
    size: int,
    size_text: str,
    indexes: set[str],
    scenarios: list[str],
) -> None:
    """Start one configuration (with ``checkout``'s code), run the chosen scenarios, print a line each."""
    if name.split()[-1].startswith("pg-"):
        command, env = mockserver_command(
            checkout, "seed", "--db", args.postgres, "--fresh", "--scale", f"{max(size / RECORDS_PER_SCALE, 0.01):.4f}"
        )
        subprocess.run(command, check=True, env=env)
    port = free_port()
    extra = ["--threads", str(args.threads)] if args.threads else []
    command, env = mockserver_command(checkout, "--port", str(port), "--rate-limit", "1000000000", *flags, *extra)
    began, before = time.perf_counter(), in_memory_databases()
    with server(command, port, env) as process:
        start_up = time.perf_counter() - began
        print(f"{name:<12} {size_text:>6} {'start-up':<21} {start_up:>7.1f} s", flush=True)
        if name.split()[-1] == "memory":  # measured once its indexes are made (a big seed serves before)
            whole = wait_until_whole(next(iter(in_memory_databases() - before), None), indexes, began)
            print(f"{name:<12} {size_text:>6} {'whole':<21} {whole:>7.1f} s", flush=True)
        for scenario in SCENARIOS:
            if scenario not in scenarios:
                continue
            r = measure(process.pid, port, scenario, args.seconds, args.connections)
            print(
                f"{name:<12} {size_text:>6} {scenario:<21} {r['rps']:>7.0f} {r['p50_ms']:>7.2f} "
                f"{r['p99_ms']:>7.2f} {r['cpu_ms']:>10.3f} {r['idle_pct']:>6.1f}",
                flush=True,
            )
        if HEALTH_UNDER_LOAD in scenarios:
            h = health_under_load(port, args.seconds)
            p50, p99 = h["p50_ms"], h["p99_ms"]
            print(f"{name:<12} {size_text:>6} {HEALTH_UNDER_LOAD:<21} {'':>7} {p50:>7.2f} {p99:>7.2f}", flush=True)
        if IDLE in scenarios:
            idle = idle_cost(process.pid, args.seconds)
            shown = f"{idle['cpu_ms']:.1f} ms CPU and {idle['wakeups']:.0f} wake-ups a second"
            print(f"{name:<12} {size_text:>6} {IDLE:<21} {shown}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
