"""The ``mockserver`` command as a user meets it: banner, served documents, errors and help."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import requests
import yaml
from conftest import ACME_FULL, API, ROOT, LiveServer, auth, free_port

from mockserver.spec.loader import spec_digest
from mockserver.state.fixtures import load_fixtures

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def banner_server() -> tuple[LiveServer, str]:
    """A server started and stopped again, with everything it printed."""
    server = LiveServer("--seed", "7")
    try:
        assert requests.get(f"{server.base}/openapi.json", timeout=10).status_code == 200
    finally:
        output = server.stop()
    return server, output


def run_mockserver(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockserver", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_banner_shows_the_base_url(banner_server: tuple[LiveServer, str]) -> None:
    server, output = banner_server
    assert f"{server.base}{API}" in output
    assert f"{server.base}/docs" in output
    assert "seed 7" in output


def test_the_banner_lists_every_sandbox_key(banner_server: tuple[LiveServer, str]) -> None:
    _, output = banner_server
    fixtures = load_fixtures(ROOT / "fixtures")
    keys = [(company.name, key) for company in fixtures.companies for key in company.keys]
    assert len(keys) >= 8
    for company, key in keys:
        line = next((line for line in output.splitlines() if key.key in line), None)
        assert line is not None, key.name
        assert company in line
        assert key.name in line


def test_the_spec_is_served_as_json(live_server: LiveServer) -> None:
    response = requests.get(f"{live_server.base}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/invoices" in document["paths"]


def test_the_spec_is_served_as_yaml(live_server: LiveServer) -> None:
    response = requests.get(f"{live_server.base}/openapi.yaml", timeout=10)
    assert response.status_code == 200
    assert "yaml" in response.headers["Content-Type"]
    document = yaml.safe_load(response.text)
    assert document == requests.get(f"{live_server.base}/openapi.json", timeout=10).json()


def test_the_docs_page_is_the_explorer_on_the_served_spec(live_server: LiveServer) -> None:
    response = requests.get(f"{live_server.base}/docs", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert '"specUrl": "openapi.json"' in response.text  # beside the page: /openapi.json
    for asset in re.findall(r'(?:src|href)="(docs/assets/[^"]+)"', response.text):  # served here, never a CDN
        assert requests.get(f"{live_server.base}/{asset}", timeout=10).status_code == 200
    assert "https://" not in response.text
    served = requests.get(f"{live_server.base}/openapi.json", timeout=10).json()
    assert served["servers"] == [{"url": f"{live_server.base}{API}", "description": "This sandbox."}]


def test_a_missing_spec_exits_2_with_a_readable_message() -> None:
    result = run_mockserver("--spec", "/nonexistent", "--port", "0")
    assert result.returncode == 2
    assert "mockserver: cannot read spec /nonexistent" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_database_skips_checking_only_the_spec_it_served_before(tmp_path: Path) -> None:
    """It notes the digest of a spec that checked clean; a spec with other bytes is checked (and refused) again."""
    spec, db = tmp_path / "openapi.yaml", tmp_path / "state.db"
    spec.write_bytes((ROOT / "openapi.yaml").read_bytes())
    seeded = run_mockserver("seed", "--db", str(db), "--spec", str(spec))
    assert seeded.returncode == 0, seeded.stderr
    assert _noted_spec(db) == spec_digest(spec.read_bytes())
    spec.write_text(spec.read_text(encoding="utf-8") + "bogus: 1\n", encoding="utf-8")
    refused = run_mockserver("--db", str(db), "--spec", str(spec), "--port", "0")
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"mockserver: spec {spec} is invalid at /: ")
    assert "Traceback" not in refused.stderr
    with closing(sqlite3.connect(db)) as connection, connection:  # as if these very bytes had checked clean
        connection.execute("UPDATE meta SET value = ? WHERE key = 'checked spec'", (spec_digest(spec.read_bytes()),))
    server = LiveServer("--db", str(db), "--spec", str(spec))  # served without a check: none ran to refuse it
    try:
        assert requests.get(f"{server.base}{API}/health", timeout=10).status_code == 200
    finally:
        server.stop()


def test_export_and_import_carry_a_database_s_whole_state_and_refuse_a_bad_export_before_replacing_anything(
    tmp_path: Path,
) -> None:
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    assert run_mockserver("seed", "--db", str(source), "--seed", "3").returncode == 0
    exported = run_mockserver("export", "--db", str(source), "--output", str(tmp_path / "source.json"))
    assert exported.returncode == 0, exported.stderr
    state = json.loads((tmp_path / "source.json").read_text(encoding="utf-8"))
    customers = state["companies"]["1"]["records"]["customers"]
    records = sum(len(rows) for company in state["companies"].values() for rows in company["records"].values())

    imported = run_mockserver("import", str(tmp_path / "source.json"), "--db", str(target))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == f"mockserver: imported {records} records into {target}"
    again = run_mockserver("export", "--db", str(target))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == state

    customers[0]["name"] = 42  # not a string: the spec refuses it
    (tmp_path / "bad.json").write_text(json.dumps(state), encoding="utf-8")
    refused = run_mockserver("import", str(tmp_path / "bad.json"), "--db", str(target))
    assert refused.returncode == 2
    assert refused.stderr.startswith("mockserver: ")
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "name" in refused.stderr
    assert json.loads(run_mockserver("export", "--db", str(target)).stdout) == json.loads(again.stdout)


def test_export_of_a_database_that_does_not_exist_and_import_of_a_missing_file_are_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "mistyped.db"
    exported = run_mockserver("export", "--db", str(missing))
    assert exported.returncode == 2
    assert exported.stderr.strip() == (
        f"mockserver: {missing} does not exist: export reads an existing database (without --db, a fresh seed)."
    )
    assert not missing.exists()
    nowhere = tmp_path / "nowhere.json"
    imported = run_mockserver("import", str(nowhere), "--db", str(tmp_path / "target.db"))
    assert imported.returncode == 2
    assert imported.stderr.strip() == f"mockserver: {nowhere} cannot be read: no such file or directory."


def _noted_spec(db: Path) -> str | None:
    with closing(sqlite3.connect(db)) as connection:
        row = connection.execute("SELECT value FROM meta WHERE key = 'checked spec'").fetchone()
    return None if row is None else str(row[0])


def test_a_spec_that_is_not_openapi_exits_2() -> None:
    result = run_mockserver("--spec", str(ROOT / "pyproject.toml"), "--port", "0")
    assert result.returncode == 2
    assert result.stderr.startswith("mockserver: ")
    assert "Traceback" not in result.stderr


def test_help_describes_the_options() -> None:
    result = run_mockserver("--help")
    assert result.returncode == 0
    for option in ("--port", "--spec", "--seed", "--scale", "--strict", "--today", "--rate-limit"):
        assert option in result.stdout


def test_packages_in_the_directory_it_is_started_from_never_stand_in_for_its_own(tmp_path: Path) -> None:
    """Granian put the current directory first on a worker's import path: a user's ``domains`` broke every PDF."""
    for name in ("domains", "contracts"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise SystemExit('the {name} of the current directory')\n")
    # -P: no current directory on the import path, as with the installed console script
    console = (sys.executable, "-P", "-c", "from mockserver.cli import main; raise SystemExit(main())")
    server = LiveServer(program=console, cwd=tmp_path)
    try:
        pdf = requests.get(f"{server.base}{API}/invoices/1/pdf", headers=auth(), timeout=120)
    finally:
        printed = server.stop()
    assert pdf.status_code == 200, printed
    assert pdf.content.startswith(b"%PDF-")


def test_the_console_script_answers_help() -> None:
    installed = Path(sys.executable).parent / "mockserver"
    command: list[str]
    if installed.exists():
        command = [str(installed), "--help"]
    else:  # not pip-installed here: run the entry point pyproject.toml declares
        target = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"][
            "mockserver"
        ]
        module, function = target.split(":")
        code = f"import sys; from {module} import {function}; sys.exit({function}(['--help']))"
        command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mockserver")


def test_a_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_mockserver("--port", str(port))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"mockserver: 127.0.0.1:{port} is already in use (another mockserver?): stop it, or pick another --port "
        "(--port 0 picks a free one)."
    )


def test_a_second_sandbox_on_the_same_port_is_refused(live_server: LiveServer) -> None:
    result = run_mockserver("--port", str(live_server.port))
    assert result.returncode == 2
    assert "already in use" in result.stderr
    assert requests.get(f"{live_server.base}{API}/health", timeout=10).status_code == 200


def test_port_0_serves_on_a_free_port_the_banner_names() -> None:
    process = _started([sys.executable, "-m", "mockserver", "--port", "0"])
    try:
        assert process.stdout is not None
        line = next(line for line in process.stdout if "base URL" in line)
        match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", line)
        assert match is not None, line
        assert match.group(1) != "0"
        assert _health(f"http://127.0.0.1:{match.group(1)}") == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_a_host_name_is_resolved_and_served() -> None:
    server = LiveServer("--host", "localhost")
    try:
        assert requests.get(f"{server.base}{API}/health", timeout=10).status_code == 200
    finally:
        output = server.stop()
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--host", "no-such-host.invalid"), "--host 'no-such-host.invalid' is not an address"),
        (("--host", "192.0.2.1"), "--host 192.0.2.1 is not an address of this machine"),
        (("--port", "70000"), "--port must be between 0 and 65535, not 70000."),
        (("--threads", "0"), "--threads must be at least 1, not 0."),
        (("--rate-limit", "0"), "--rate-limit must be at least 1, not 0."),
        (("--workers", "0"), "--workers must be at least 1, not 0."),
    ],
)
def test_a_bad_listening_flag_is_one_line_and_exit_2(flags: tuple[str, ...], message: str) -> None:
    port = () if "--port" in flags else ("--port", str(free_port()))  # never the default 8080, should it start
    result = run_mockserver(*flags, *port)
    assert result.returncode == 2
    assert result.stderr.startswith(f"mockserver: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def _health(base: str) -> int:
    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(f"{base}{API}/health", timeout=5).status_code
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_public_url_is_used_for_links_and_the_served_spec() -> None:
    server = LiveServer("--public-url", "https://sandbox.example.com/")
    try:
        spec = requests.get(f"{server.base}/openapi.json", timeout=10).json()
        page = requests.get(f"{server.base}{API}/customers?limit=1", headers=auth(), timeout=10).json()
    finally:
        output = server.stop()
    assert spec["servers"][0]["url"] == f"https://sandbox.example.com{API}"
    assert page["links"]["next"].startswith(f"https://sandbox.example.com{API}/customers?")
    assert f"https://sandbox.example.com{API}" in output
    assert f"  listens   http://127.0.0.1:{server.port}   " in output  # where to reach it from this machine


def test_a_bad_public_url_is_one_line_and_exit_2() -> None:
    result = run_mockserver("--public-url", "sandbox.example.com", "--port", str(free_port()))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mockserver: --public-url must be an http(s) URL such as https://sandbox.example.com, "
        "not 'sandbox.example.com'."
    )


@pytest.fixture(scope="module")
def logged_requests() -> dict[str, str]:
    """What a server printed for a few requests, once in each log format."""
    printed: dict[str, str] = {}
    for log_format in ("text", "json"):
        server = LiveServer("--log-format", log_format)
        try:
            requests.get(f"{server.base}{API}/invoices/1", headers={**auth(), "X-Request-Id": "log-ok"}, timeout=10)
            requests.post(
                f"{server.base}{API}/customers",
                json={"name": 7},
                headers={**auth(), "X-Request-Id": "log-422"},
                timeout=10,
            )
            requests.get(f"{server.base}{API}/invoices/1", headers={"X-Request-Id": "log-401"}, timeout=10)
            requests.get(f"{server.base}/nowhere%0Aforged 200", headers={"X-Request-Id": "log-404"}, timeout=10)
        finally:
            printed[log_format] = server.stop()
    return printed


def _line(output: str, request_id: str) -> str:
    return next(line for line in output.splitlines() if request_id in line)


def test_the_access_log_has_one_text_line_per_request(logged_requests: dict[str, str]) -> None:
    output = logged_requests["text"]
    ok = _line(output, "request_id=log-ok")
    assert re.search(r'^\S+Z GET /api/v1/invoices/1 200 [0-9.]+ms key="Acme full access" request_id=log-ok$', ok), ok
    refused = _line(output, "request_id=log-422")
    assert " POST /api/v1/customers 422 " in refused
    assert 'errors={"name":' in refused
    assert " 401 " in _line(output, "request_id=log-401")
    assert " key=- " in _line(output, "request_id=log-401")
    forged = _line(output, "request_id=log-404")
    assert ' "/nowhere\\nforged 200" 404 ' in forged
    assert all(ACME_FULL not in line for line in output.splitlines() if "request_id=" in line)


def test_the_access_log_in_json_has_the_same_fields(logged_requests: dict[str, str]) -> None:
    output = logged_requests["json"]
    lines = [line for line in output.splitlines() if line.startswith("{")]
    entries = {entry["request_id"]: entry for entry in map(json.loads, lines)}
    assert {"log-ok", "log-422", "log-401", "log-404"} <= set(entries)
    ok = entries["log-ok"]
    assert (ok["method"], ok["path"], ok["status"]) == ("GET", "/api/v1/invoices/1", 200)
    assert ok["key"]
    assert isinstance(ok["latency_ms"], float | int)
    assert "name" in entries["log-422"]["errors"]
    assert entries["log-401"]["key"] is None
    assert all(ACME_FULL not in line for line in lines)


def test_quiet_prints_no_access_log() -> None:
    server = LiveServer("--quiet")
    try:
        requests.get(f"{server.base}{API}/invoices/1", headers={**auth(), "X-Request-Id": "quiet-1"}, timeout=10)
    finally:
        output = server.stop()
    assert "quiet-1" not in output


def test_a_killed_server_takes_its_workers_with_it() -> None:
    server = LiveServer("--quiet")
    try:
        os.kill(server.process.pid, signal.SIGKILL)  # the main process only; its workers are not told
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"{server.base}{API}/health", timeout=1)
            except requests.ConnectionError:
                break
            time.sleep(0.2)
        else:
            pytest.fail("a worker kept answering after its server was killed")
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        (("--scale", "nan"), {}, "--scale must be a number of at least 0, not nan."),
        (("--scale", "-1"), {}, "--scale must be a number of at least 0, not -1."),
        ((), {"MOCKSERVER_PORT": "abc"}, "MOCKSERVER_PORT='abc' is not a valid integer."),
        ((), {"MOCKSERVER_SCALE": "x"}, "MOCKSERVER_SCALE='x' is not a valid number."),
        ((), {"MOCKSERVER_TODAY": "yesterday"}, "MOCKSERVER_TODAY='yesterday' is not a valid date (YYYY-MM-DD)."),
        ((), {"MOCKSERVER_WEBHOOK_RETRY_SCALE": "0"}, "--webhook-retry-scale must be a number above 0, not 0."),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(flags: tuple[str, ...], env: dict[str, str], message: str) -> None:
    for command in ((), ("seed", "--db", "unused.db")):
        result = subprocess.run(
            [sys.executable, "-m", "mockserver", *command, *flags, *(() if command else ("--port", str(free_port())))],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MOCKSERVER_")}, **env},
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == f"mockserver: {message}"
    assert not (ROOT / "unused.db").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("companies: [\n", "is not valid YAML (line 2)."),
        ("companies:\n  - name: Nameless\n", "are not in the expected shape (missing 'id')."),
    ],
)
def test_unusable_fixtures_are_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "companies.yaml").write_text(content, encoding="utf-8")
    result = run_mockserver("--fixtures", str(tmp_path), "--port", str(free_port()))
    assert result.returncode == 2
    assert result.stderr.startswith("mockserver: ")
    assert result.stderr.strip().endswith(message)
    assert "Traceback" not in result.stderr


def test_a_stalled_client_cannot_hold_up_shutdown_beyond_its_bound() -> None:
    server = LiveServer("--quiet", "--shutdown-timeout", "2")
    stalled = socket.create_connection(("127.0.0.1", server.port))
    try:
        head = (
            f"POST {API}/customers HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {ACME_FULL}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        stalled.sendall(head.encode() + b'{"name":')  # announces 1000 bytes, sends 8, then waits
        time.sleep(0.5)
        began = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=30)
        assert time.monotonic() - began < 6
    finally:
        stalled.close()
        server.stop()


def test_a_server_that_made_pdfs_stops_at_once_and_leaves_no_files_behind(tmp_path: Path) -> None:
    """A worker waited for its PDF helper to end, which nobody told to: a stop took the whole --shutdown-timeout,
    then the worker was killed and the helper's fonts stayed in the temporary folder.

    The stop must end long before the timeout. Granian's "Killing worker-1 after it refused to gracefully
    stop" is not the sign to look for: Granian 2.8 also prints it, and sends a SIGKILL to a worker already
    gone, when the thread of its own that waits for each worker reaps one that exits the moment it is told
    to stop, and the thread stopping the workers is not scheduled again within a millisecond (seen on a busy
    machine: the whole stop took 0.3 s).
    """
    server = LiveServer("--quiet", "--shutdown-timeout", "600", env={"TMPDIR": str(tmp_path)})
    try:
        pdf = requests.get(f"{server.base}{API}/invoices/1/pdf", headers=auth(), timeout=60)
        assert pdf.status_code == 200
        assert list(tmp_path.glob("invoice-sandbox-fonts-*"))  # the helper set its fonts aside here
        server.process.terminate()
        assert server.process.wait(timeout=90) == 0  # a worker kept alive by its helper would take 600 s
    finally:
        server.stop()
    assert not list(tmp_path.glob("invoice-sandbox-fonts-*"))


@pytest.mark.parametrize(
    ("stop", "exit_code"),
    [
        pytest.param(lambda pid: os.killpg(pid, signal.SIGINT), 130, id="ctrl-c-to-the-group"),
        pytest.param(lambda pid: os.kill(pid, signal.SIGTERM), 143, id="sigterm-to-the-main-process"),
    ],
)
def test_a_start_stopped_while_seeding_ends_quietly_and_completely_and_the_next_start_seeds_anew(
    tmp_path: Path, stop: Callable[[int], None], exit_code: int
) -> None:
    """Ctrl-C printed each seeding process's KeyboardInterrupt traceback; SIGTERM left them seeding on, orphaned."""
    db = tmp_path / "state.db"
    # Started with Ctrl-C's default handling, whatever this test process inherited (a runner may ignore it).
    start = (
        "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "runpy.run_module('mockserver', run_name='__main__')"
    )
    starting = _started([sys.executable, "-c", start, "--db", str(db), "--scale", "100", "--port", "0"])
    try:
        seeding = _children_when_any(starting.pid)  # the processes that seed the companies side by side
        stop(starting.pid)
        output, _ = starting.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(starting.pid, signal.SIGKILL)
    assert starting.returncode == exit_code, output
    assert "Traceback" not in output, output
    assert not [pid for pid in seeding if Path(f"/proc/{pid}").exists() and _running(pid)], output
    scratch = [Path("/dev/shm"), Path(tempfile.gettempdir())]
    assert not [found for folder in scratch for found in folder.glob(f"invoice-sandbox-{starting.pid}-*")]
    restarted = LiveServer("--db", str(db), "--scale", "100", "--quiet")
    try:
        customers = requests.get(f"{restarted.base}{API}/customers?limit=1", headers=auth(), timeout=30).json()
        assert customers["meta"]["total"] > 1000, restarted.output()
    finally:
        restarted.stop()


def test_a_server_stopped_while_its_worker_seeds_stops_at_once_and_leaves_no_files_behind() -> None:
    """Granian listens for SIGTERM in a worker only once its app is built: the stop was lost, and the worker
    killed after --shutdown-timeout, its in-memory database left in /dev/shm."""
    starting = _started(
        [sys.executable, "-m", "mockserver", "--scale", "100", "--port", "0", "--shutdown-timeout", "60"]
    )
    try:
        (worker,) = _children_when_any(starting.pid)
        _children_when_any(worker)  # its seeding processes: the worker is building its app
        starting.terminate()
        output, _ = starting.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(starting.pid, signal.SIGKILL)
    assert starting.returncode == 0
    assert "refused to gracefully stop" not in output
    assert "Traceback" not in output
    scratch = [Path("/dev/shm"), Path(tempfile.gettempdir())]
    assert not [found for folder in scratch for found in folder.glob(f"invoice-sandbox-{worker}-*")]


def _started(command: list[str]) -> subprocess.Popen[str]:
    """A process in a group of its own (so a signal can reach all it starts), both output streams on one pipe."""
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def _children_when_any(pid: int) -> list[int]:
    """The child processes of ``pid`` once it has any (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return [int(child) for child in children]
        time.sleep(0.02)
    pytest.fail("no seeding process started within 60 s")


def _running(pid: int) -> bool:
    """Whether a process runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_stopped_server_exits_0_and_one_whose_worker_died_exits_1() -> None:
    stopped = LiveServer("--quiet")
    stopped.process.terminate()
    assert stopped.process.wait(timeout=30) == 0
    stopped.stop()

    crashed = LiveServer("--quiet")
    try:
        workers = Path(f"/proc/{crashed.process.pid}/task/{crashed.process.pid}/children").read_text().split()
        assert workers
        for worker in workers:
            os.kill(int(worker), signal.SIGKILL)
        assert crashed.process.wait(timeout=30) == 1  # it stops rather than serve on without that state
        assert "Unexpected exit from worker-1" in crashed.output()
    finally:
        crashed.stop()


def test_a_bad_webhook_target_entry_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "--port", str(free_port()), "--webhook-allow", "http://hooks.example.com"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("mockserver: --webhook-allow: 'http://hooks.example.com' is not a ")
    assert result.stderr.count("\n") == 1


def test_seed_prepares_a_database_and_fresh_seeds_it_anew_with_the_seed_and_scale_given(tmp_path: Path) -> None:
    database = str(tmp_path / "prepared.db")
    first = run_mockserver("seed", "--db", database, "--scale", "0.5")
    assert first.returncode == 0, first.stderr
    assert "is ready (seed 1, scale 0.5)" in first.stdout
    again = run_mockserver("seed", "--db", database, "--scale", "2")  # a seeded database keeps its state
    assert "is ready (seed 1, scale 0.5)" in again.stdout, again.stdout + again.stderr
    fresh = run_mockserver("seed", "--db", database, "--fresh", "--seed", "3", "--scale", "2")
    assert fresh.returncode == 0, fresh.stderr
    assert "is ready (seed 3, scale 2)" in fresh.stdout, fresh.stdout + fresh.stderr
