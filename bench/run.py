"""Throughput and latency of a live sandbox: list 20 invoices, get one, create a customer.

Starts ``mockserver`` on a free port, then drives it from a separate process (``wrk`` when it is
installed, else a Python client with keep-alive connections on several threads), and prints
requests/s and p50/p99 latency per scenario.

    python bench/run.py [--seconds 5] [--connections 8] [--strict] [--scale 1]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KEY = "sk_test_acme_full_4eC39HqLyjWDarjtT1zdp7dc"
SCENARIOS = {
    "list 20 invoices": ("GET", "/api/v1/invoices?limit=20", None),
    "get one invoice": ("GET", "/api/v1/invoices/1", None),
    "create a customer": (
        "POST",
        "/api/v1/customers",
        json.dumps({"name": "Bench Customer", "email": "bench@example.com", "currency_id": 1}),
    ),
}


def mockserver_command(checkout: Path | None, *args: str) -> tuple[list[str], dict[str, str] | None]:
    """``python -m mockserver ARGS`` with this checkout's code, or another checkout's (its spec and fixtures too).

    The other checkout is typically a git worktree of an earlier commit, to measure side by side.
    """
    if checkout is None:
        return [sys.executable, "-m", "mockserver", *args], None
    start = f"import sys; sys.path.insert(0, {str(checkout)!r}); from mockserver.cli import main; sys.exit(main())"
    env = {**os.environ, "MOCKSERVER_SPEC_PATH": str(checkout / "openapi.yaml")}
    env["MOCKSERVER_FIXTURES_DIR"] = str(checkout / "fixtures")
    return [sys.executable, "-c", start, *args], env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker(port: int, method: str, path: str, body: str | None, seconds: float, out: list[float]) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port)
    deadline = time.perf_counter() + seconds
    while (start := time.perf_counter()) < deadline:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status}")
        out.append(time.perf_counter() - start)


def drive(port: int, scenario: str, seconds: float, connections: int, results: dict[str, object]) -> None:
    method, path, body = SCENARIOS[scenario]
    latencies: list[list[float]] = [[] for _ in range(connections)]
    threads = [
        threading.Thread(target=worker, args=(port, method, path, body, seconds, latencies[i]))
        for i in range(connections)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = sorted(x for chunk in latencies for x in chunk)
    results[scenario] = {
        "requests": len(flat),
        "rps": len(flat) / elapsed,
        "p50_ms": statistics.median(flat) * 1000,
        "p99_ms": flat[int(len(flat) * 0.99) - 1] * 1000,
    }


def drive_with_wrk(port: int, scenario: str, seconds: float, connections: int) -> dict[str, float]:
    """Run wrk against one scenario and parse its requests/s and latency percentiles."""
    method, path, body = SCENARIOS[scenario]
    return wrk(port, method, path, body, seconds, connections)


def wrk(port: int, method: str, path: str, body: str | None, seconds: float, connections: int) -> dict[str, float]:
    """One wrk run (one thread, ``connections`` keep-alive connections): req/s, p50, p99 and the count."""
    lua_body = "nil" if body is None else "[[" + body + "]]"
    with tempfile.TemporaryDirectory() as folder:  # one script per run, gone after it
        script = Path(folder) / "scenario.lua"
        script.write_text(
            f'wrk.method = "{method}"\nwrk.body = {lua_body}\n'
            f'wrk.headers["Authorization"] = "Bearer {KEY}"\nwrk.headers["Content-Type"] = "application/json"\n'
        )
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
        out = subprocess.run(
            [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
        ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{method} {path}: non-2xx responses\n{out}")

    def millis(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": millis("50"), "p99_ms": millis("99"), "requests": requests}


@contextmanager
def server(
    command: list[str], port: int, env: dict[str, str] | None = None, timeout: float = 600
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until it answers on ``port``, and stop it when the block ends."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    started = time.perf_counter()
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.perf_counter() - started > timeout:
                    raise SystemExit(f"server did not start: {' '.join(command)}") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--strict", action="store_true", help="also validate every response")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--python-client", action="store_true", help="drive with Python even if wrk exists")
    args = parser.parse_args()
    port = free_port()
    command = [sys.executable, "-m", "mockserver", "--port", str(port), "--scale", str(args.scale)]
    command += ["--rate-limit", "100000000"] + (["--strict"] if args.strict else [])
    started = time.perf_counter()
    with server(command, port, timeout=120):
        print(f"start-up (scale {args.scale:g}): {time.perf_counter() - started:.2f} s")
        manager = multiprocessing.Manager()
        results = manager.dict()
        driver = "wrk" if shutil.which("wrk") and not args.python_client else "python client"
        print(
            f"{'scenario':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  ({driver}, {args.connections} connections, "
            f"{args.seconds:g} s, {'strict' if args.strict else 'request validation'})"
        )
        for scenario in SCENARIOS:
            if driver == "wrk":
                results[scenario] = drive_with_wrk(port, scenario, args.seconds, args.connections)
            else:
                process = multiprocessing.Process(
                    target=drive, args=(port, scenario, args.seconds, args.connections, results)
                )
                process.start()
                process.join()
            r = results[scenario]
            print(f"{scenario:<20} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
