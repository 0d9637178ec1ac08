"""Start-up at scale: from launch until /health answers, and until the database is whole (every index made).

    python bench/startup.py [--scale 1000] [--rounds 2] [--baseline WORKTREE]

Each round starts, one after another, ``mockserver --scale N`` (the in-memory default),
``mockserver --scale N --db NEW_FILE`` and ``mockserver seed --db NEW_FILE --scale N`` (until it
exits), with this checkout and, given ``--baseline``, with an earlier commit's worktree, so both are
measured side by side under the same load. A server's SQLite database (the file, or the in-memory
default's file in /dev/shm) is whole when it holds every index a finished seed holds and no row
waits for the text index; the time until then is polled from outside, read-only.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from pathlib import Path

from run import free_port, mockserver_command  # bench/run.py

ROOT = Path(__file__).resolve().parents[1]
SHM = Path("/dev/shm")  # where the in-memory default keeps its private database


def state(path: Path) -> tuple[set[str], int] | None:
    """The index names of a database and the rows its text index has yet to take (None: not readable yet)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as connection:
            names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            pending = (
                connection.execute("SELECT count(*) FROM text_pending").fetchone()[0] if "text_pending" in tables else 0
            )
            return names, int(pending)
    except sqlite3.Error:
        return None


def whole(path: Path | None, indexes: set[str]) -> bool:
    found = state(path) if path is not None else None
    return found is not None and indexes <= found[0] and found[1] == 0


def reference_indexes(folder: Path) -> set[str]:
    """The indexes a finished seed holds (those of a tiny one: the spec decides them, not the scale)."""
    reference = folder / "reference.db"
    subprocess.run(
        mockserver_command(None, "seed", "--db", str(reference), "--scale", "0.01")[0],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return (state(reference) or (set(), 0))[0]


def in_memory_databases() -> set[Path]:
    """The private databases of the in-memory sandboxes running now."""
    return set(SHM.glob("invoice-sandbox-*/state.db"))


def wait_until_whole(path: Path | None, indexes: set[str], began: float, limit: float = 600) -> float:
    """Seconds from ``began`` until the database is whole (polled every tenth of a second, up to ``limit``)."""
    while not whole(path, indexes) and time.perf_counter() - began < limit:
        time.sleep(0.1)
    return time.perf_counter() - began


def serve(checkout: Path | None, scale: float, db: Path | None, indexes: set[str]) -> tuple[float, float]:
    """Seconds from launch until /health answers, and until the server's database is whole."""
    port = free_port()
    args = ["--port", str(port), "--quiet", "--scale", f"{scale:g}", *(["--db", str(db)] if db else [])]
    argv, env = mockserver_command(checkout, *args)
    before = in_memory_databases()
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None:
                    raise SystemExit(f"server did not start: {' '.join(argv)}") from None
                time.sleep(0.05)
        answered = time.perf_counter() - began
        path = db or next(iter(in_memory_databases() - before), None)
        return answered, wait_until_whole(path, indexes, began)
    finally:
        process.terminate()
        process.wait(timeout=60)


def seed(checkout: Path | None, scale: float, db: Path) -> float:
    """Seconds ``mockserver seed`` takes to prepare a new file."""
    argv, env = mockserver_command(checkout, "seed", "--db", str(db), "--scale", f"{scale:g}")
    began = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="also measure this checkout (a worktree of an earlier commit)")
    args = parser.parse_args()
    checkouts: dict[str, Path | None] = {"this": None}
    if args.baseline is not None:
        checkouts["baseline"] = args.baseline.resolve()
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as folder:
        indexes = reference_indexes(Path(folder))
        for round_number in range(args.rounds):
            for name, checkout in checkouts.items():
                files = [Path(folder) / f"{name}-{round_number}-{n}.db" for n in range(2)]
                results.setdefault((name, "memory"), []).append(serve(checkout, args.scale, None, indexes))
                results.setdefault((name, "new file"), []).append(serve(checkout, args.scale, files[0], indexes))
                took = seed(checkout, args.scale, files[1])
                results.setdefault((name, "seed command"), []).append((took, took))
                for leftover in Path(folder).glob(f"{name}-{round_number}-*"):
                    leftover.unlink()
    print(
        f"{'code':<9} {'start':<13} {'answers (s)':>18} {'whole (s)':>18}   (median, each round; scale {args.scale:g})"
    )
    for (name, kind), rounds in results.items():
        answers = " ".join(f"{r[0]:.1f}" for r in rounds)
        wholes = " ".join(f"{r[1]:.1f}" for r in rounds)
        print(
            f"{name:<9} {kind:<13} {statistics.median(r[0] for r in rounds):>6.1f} ({answers:>9}) "
            f"{statistics.median(r[1] for r in rounds):>6.1f} ({wholes:>9})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
