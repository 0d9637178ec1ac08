"""Stock Schemathesis against the sandbox and against Prism on the vendored real-world specs.

For each spec under ``tests/specs`` this starts ``python -m mockserver --spec FILE`` (timing its start
and the peak memory of its processes) and ``prism mock FILE``, runs the same ``st run`` command
against each (fixed seed, few examples, the spec's own way of sending the sandbox key), and prints a
Markdown table of the failures Schemathesis reports, by check. Prism is not a dependency of the
project: install it in a temporary folder (``npm install --prefix /tmp/prism @stoplight/prism-cli``)
and pass ``--prism /tmp/prism/node_modules/.bin/prism`` (or set ``PRISM``).

``st run`` runs in a scratch folder, so no ``schemathesis.toml`` (this repository's tunes a check for
the invoicing API) changes the stock behaviour. A run that outlives ``--st-timeout`` is interrupted
(SIGINT, as Ctrl-C) so Schemathesis still writes its report, and is marked partial. ``--sandbox-source``
serves the sandbox from another tree (say ``git archive HEAD`` unpacked) than this working tree, and
``--keep`` keeps every report (JSON and JUnit) and server log for reading the failures one by one.

    python bench/real_specs.py --prism /tmp/prism/node_modules/.bin/prism [--specs stripe,recurly] [--max-examples 5]
    python bench/real_specs.py --sandbox-only --specs none --spec-file openai=/tmp/openai.yaml  # a spec not vendored
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "tests" / "specs"
KEY = "sk_test_acme_full_4eC39HqLyjWDarjtT1zdp7dc"  # Acme Corp's full-access sandbox key
SANDBOX_START_WAIT_SECONDS = 180
INTERRUPT_GRACE_SECONDS = 60
UNLIMITED = 1_000_000_000  # requests per key per window: the sandbox's rate limit, lifted


@dataclass(frozen=True)
class Target:
    """A vendored spec and the flags the sandbox needs to serve it."""

    name: str
    path: Path
    flags: tuple[str, ...] = ()


TARGETS = (
    Target("stripe", SPECS / "stripe" / "spec3.json"),
    Target("docker-engine", SPECS / "docker-engine" / "swagger.openapi3.yaml"),
    Target("xero-accounting", SPECS / "xero-accounting" / "xero_accounting.yaml", ("--lenient",)),
    Target("recurly", SPECS / "recurly" / "api.yaml", ("--lenient",)),
    Target("solidus", SPECS / "solidus" / "solidus-api.oas.yml"),
    Target("adyen-management", SPECS / "adyen-management" / "ManagementService-v3.json"),
)


@dataclass
class Run:
    """What one ``st run`` against one server found."""

    failures: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    test_cases: int = 0
    seconds: float = 0.0
    note: str = ""
    partial: bool = False


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_memory_mb(session: int) -> int:
    """The peak resident memory (VmHWM) of every process in a session, added up, in MB."""
    total_kb = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError, ValueError, StopIteration):
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[3]) == session:
                status = Path(f"/proc/{pid}/status").read_text()
                total_kb += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return total_kb // 1024


def load(path: Path) -> dict[str, Any]:
    """A spec document, JSON or YAML."""
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


def auth_options(document: dict[str, Any]) -> list[str]:
    """The ``st run`` options that send the sandbox key the way the spec's first security scheme asks."""
    schemes = document.get("components", {}).get("securitySchemes", {})
    requirements = document.get("security") or [
        requirement
        for item in document.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict)
        for requirement in operation.get("security", [])
    ]
    for requirement in requirements:
        for name in requirement:
            scheme = schemes.get(name, {})
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return ["-H", f"{scheme['name']}: {KEY}"]
            if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "basic":
                return ["--auth", f"{KEY}:"]
            if scheme.get("type") in ("http", "oauth2", "openIdConnect"):
                return ["-H", f"Authorization: Bearer {KEY}"]
    return []


def base_path(document: dict[str, Any]) -> str:
    """The path of the spec's first server URL, where the sandbox serves the API."""
    servers = document.get("servers") or [{"url": "/"}]
    return str(urlparse(servers[0]["url"]).path).rstrip("/")


@contextlib.contextmanager
def started(
    command: list[str], ready_url: str, log: Path, wait: float, source: Path | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Start COMMAND in its own session (in SOURCE, if given) and wait for READY_URL; yield it and its start seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSERVER_")}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    began = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=source, start_new_session=True
        )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() - began > wait:
                raise RuntimeError(f"{Path(command[0]).name} did not answer within {wait:.0f} s")
            with contextlib.suppress(requests.RequestException):
                requests.get(ready_url, timeout=2)
                break
            time.sleep(0.05)
        yield process, time.monotonic() - began
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def schemathesis(spec: Path, url: str, options: list[str], report_dir: Path, timeout: float) -> Run:
    """Run the stock ``st run`` once, in REPORT_DIR (no project config), and read its JSON report."""
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    report_dir.mkdir(parents=True, exist_ok=True)
    command = [st, "run", str(spec), "--url", url, *options, "--report", "json,junit", "--report-dir", str(report_dir)]
    began = time.monotonic()
    with (report_dir / "st.log").open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, cwd=report_dir, start_new_session=True
        )
    partial = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        partial = True
        os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C: Schemathesis stops and still writes its reports
        try:
            process.wait(timeout=INTERRUPT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    seconds = time.monotonic() - began
    try:
        report = json.loads(sorted(report_dir.glob("*.json"))[-1].read_text())
    except (IndexError, ValueError):  # none, or left empty: Schemathesis fills it in at the end of the run
        note = f"timed out after {timeout:.0f} s, no report" if partial else "no report"
        return Run(seconds=seconds, note=note, partial=partial)
    return Run(
        failures={f"{f['code']} {f['title']}": int(f["count"]) for f in report.get("failures", [])},
        errors=len(report.get("errors", [])),
        test_cases=int(report.get("test_cases", {}).get("generated", 0)),
        seconds=seconds,
        partial=partial,
    )


def st_options(args: argparse.Namespace, document: dict[str, Any]) -> list[str]:
    """The options every ``st run`` gets: the same for both servers."""
    return [
        *auth_options(document),
        "--seed",
        str(args.seed),
        "--max-examples",
        str(args.max_examples),
        "--phases",
        args.phases,
        "--checks",
        "all",
        "--workers",
        str(args.workers),
        "--request-timeout",
        "10",
        "--no-shrink",
        "--suppress-health-check",
        "all",
    ]


def measure(target: Target, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Start-up and memory of the sandbox, and what Schemathesis finds against it and against Prism."""
    document = load(target.path)
    options = st_options(args, document)
    result: dict[str, Any] = {"spec": target.name, "options": options}
    port = free_port()
    sandbox = [sys.executable, "-m", "mockserver", "--spec", str(target.path), "--port", str(port)]
    # JSON request lines, to count 5xx; no rate limit, as Prism has none (a 429 tests the limiter, not the API).
    sandbox += ["--log-format", "json", "--rate-limit", str(UNLIMITED)]
    log = work / "sandbox.log"
    ready = f"http://127.0.0.1:{port}/openapi.json"
    with started([*sandbox, *target.flags], ready, log, SANDBOX_START_WAIT_SECONDS, args.sandbox_source) as (
        process,
        seconds,
    ):
        result["start_seconds"] = seconds
        result["start_mb"] = session_memory_mb(process.pid)
        url = f"http://127.0.0.1:{port}{base_path(document)}"
        result["sandbox"] = schemathesis(target.path, url, options, work / "st-sandbox", args.st_timeout)
        result["peak_mb"] = session_memory_mb(process.pid)
    text = log.read_text(errors="replace")
    result["sandbox_tracebacks"] = text.count("Traceback")
    result["sandbox_5xx"] = sum(1 for line in text.splitlines() if _status(line) >= 500)
    if args.sandbox_only:
        result["prism"] = Run(note="not run (--sandbox-only)")
        return result
    port = free_port()
    prism = [args.prism, "mock", "-h", "127.0.0.1", "-p", str(port), str(target.path)]
    try:
        with started(prism, f"http://127.0.0.1:{port}/", work / "prism.log", args.prism_start_wait) as (
            process,
            seconds,
        ):
            result["prism_start_seconds"] = seconds
            result["prism_start_mb"] = session_memory_mb(process.pid)
            result["prism"] = schemathesis(
                target.path, f"http://127.0.0.1:{port}", options, work / "st-prism", args.st_timeout
            )
            result["prism_peak_mb"] = session_memory_mb(process.pid)
    except RuntimeError as problem:
        result["prism"] = Run(note=str(problem).splitlines()[0][:200])
    return result


def _status(line: str) -> int:
    """The HTTP status of one line of the sandbox's JSON request log (0 for any other line)."""
    with contextlib.suppress(ValueError):
        entry = json.loads(line)
        if isinstance(entry, dict) and isinstance(entry.get("status"), int):
            return int(entry["status"])
    return 0


def cell(run: Run, check: str) -> str:
    """One table cell: the failures of CHECK in RUN."""
    return str(run.failures.get(check, 0)) if not run.note else "-"


def table(results: list[dict[str, Any]]) -> str:
    """The Markdown tables of the results."""
    lines = [
        "| spec | start s | peak MB (start / after run) | server | test cases | failures | errors | by check |",
        "|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for result in results:
        for server in ("sandbox", "prism"):
            run: Run = result[server]
            by_check = ", ".join(f"{name}: {count}" for name, count in sorted(run.failures.items())) or "none"
            total = str(sum(run.failures.values())) if not run.note else run.note
            if run.partial and not run.note:
                total += f" (partial: interrupted after {run.seconds:.0f} s)"
            prefix = "" if server == "sandbox" else "prism_"
            seconds, started_mb = result.get(f"{prefix}start_seconds"), result.get(f"{prefix}start_mb")
            start = f"{seconds:.1f}" if seconds is not None else "-"
            memory = f"{started_mb} / {result.get(f'{prefix}peak_mb') or '-'}" if started_mb is not None else "-"
            lines.append(
                f"| {result['spec'] if server == 'sandbox' else ''} | {start} | {memory} | {server} "
                f"| {run.test_cases} | {total} | {run.errors} | {by_check if not run.note else '-'} |"
            )
    checks = sorted({name for result in results for server in ("sandbox", "prism") for name in result[server].failures})
    lines += ["", "| spec | server | " + " | ".join(checks) + " |", "|---|---|" + "---:|" * len(checks)]
    for result in results:
        for server in ("sandbox", "prism"):
            lines.append(
                f"| {result['spec']} | {server} | " + " | ".join(cell(result[server], c) for c in checks) + " |"
            )
    return "\n".join(lines)


def main() -> int:
    """Measure every chosen spec and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prism", default=os.environ.get("PRISM", "prism"), help="the prism executable")
    parser.add_argument("--specs", default=",".join(t.name for t in TARGETS), help="comma-separated spec names")
    parser.add_argument(
        "--spec-file",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also run a spec from outside tests/specs, served with --lenient (real specs are often invalid)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-examples", type=int, default=5)
    parser.add_argument("--phases", default="examples,fuzzing")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--st-timeout", type=float, default=600.0, help="seconds one st run may take")
    parser.add_argument("--prism-start-wait", type=float, default=300.0, help="seconds Prism may take to answer")
    parser.add_argument("--sandbox-source", type=Path, help="serve the sandbox from this tree (default: this one)")
    parser.add_argument("--keep", type=Path, help="keep the reports and server logs in this folder")
    parser.add_argument("--sandbox-only", action="store_true", help="leave Prism out (its figures do not change)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    if args.sandbox_source is not None:
        args.sandbox_source = args.sandbox_source.resolve()
    chosen = [t for t in TARGETS if t.name in args.specs.split(",")] + [
        Target(name, Path(path).resolve(), ("--lenient",))
        for name, _, path in (item.partition("=") for item in args.spec_file)
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="real-specs-") as scratch:
        for target in chosen:
            work = (args.keep.resolve() if args.keep else Path(scratch)) / target.name
            work.mkdir(parents=True, exist_ok=True)
            print(f"{target.name} ...", file=sys.stderr, flush=True)
            results.append(measure(target, args, work))
    if args.json:
        raw = [{k: (v.__dict__ if isinstance(v, Run) else v) for k, v in r.items()} for r in results]
        args.json.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
