"""Shared fixtures: the sandbox keys, a strict in-process app, and a live server on a free port."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import requests
import yaml
from flask import Flask
from flask.testing import FlaskClient

from mockserver.app import create_app
from mockserver.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "openapi.yaml"
PETSTORE = ROOT / "examples" / "petstore" / "openapi.yaml"
API = "/api/v1"

ACME_FULL = "sk_test_acme_full_4eC39HqLyjWDarjtT1zdp7dc"
ACME_READONLY = "sk_test_acme_readonly_9kR2mXq7LpZ4vB8nW3yT"
ACME_INVOICES_READ = "sk_test_acme_invoices_read_7hQ2cV9pXb4Kd1Lm"
ACME_EXPIRED = "sk_test_acme_expired_2Zt6Yw1Nq8Rs5Uv3Mx0P"
GLOBEX_FULL = "sk_test_globex_full_8Jd3Kf0Lp2Qw5Er7Ty9U"
TODAY = "2026-06-15"
# How long a test waits for a server it starts: Stripe's spec takes ~8 s idle, and CI runs four tests at once.
START_SECONDS = 180


def auth(key: str = ACME_FULL) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


def yaml_text(document: object) -> str:
    """A spec or fixture as YAML, keys in their order (libyaml's dumper where PyYAML was built with it)."""
    return yaml.dump(document, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


@pytest.fixture(scope="session")
def strict_settings() -> Settings:
    return Settings(strict=True, seed=1, today=__import__("datetime").date.fromisoformat(TODAY))


@pytest.fixture(scope="session")
def shared_app(strict_settings: Settings) -> Flask:
    """One strict sandbox for the session; ``app`` resets it before each test."""
    return create_app(strict_settings)


@pytest.fixture
def app(shared_app: Flask) -> Flask:
    """The strict sandbox, with its data back at the seed and rate limits cleared."""
    sandbox = shared_app.extensions["sandbox"]
    sandbox["engine"].reset()
    sandbox["limiter"].clear()
    sandbox["idempotency"].clear()
    return shared_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _banner_port(printed: str) -> int:
    """The port the banner says the server listens on (0 until it is printed).

    Its ``listens`` line when a --public-url names another address, else its base URL's port.
    """
    for label in ("listens", "base URL"):
        found = re.search(rf"^  {label} +https?://[^/\s]*:(\d+)", printed, re.MULTILINE)
        if found:
            return int(found.group(1))
    return 0


class LiveServer:
    """A real ``mockserver`` process on 127.0.0.1 and a free port, stopped on exit.

    Its output goes to a temporary file, not a pipe, so a chatty server can never block on a full pipe.
    """

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        program: Sequence[str] = (sys.executable, "-m", "mockserver"),
        cwd: Path | None = None,
    ) -> None:
        # The kernel picks the port as the server binds it, and the banner says which: a port found free
        # beforehand could be taken by another test's server meanwhile (several share one by SO_REUSEPORT).
        self.port = 0
        self.base = ""
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("MOCKSERVER_")}, **(env or {})}
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the server; closed in stop()
        self.process = subprocess.Popen(
            [*program, "--port", str(self.port), *args],
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            start_new_session=True,  # its own process group: stop() reaches every worker it forks
        )
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()  # never left running behind a test that could not use it
            raise

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mockserver exited early:\n{self.output()}")
            if not self.port:
                self.port = _banner_port(self.output())
            if self.port:
                self.base = f"http://127.0.0.1:{self.port}"
                try:
                    requests.get(f"{self.base}/openapi.json", timeout=1)
                    return
                except (requests.ConnectionError, requests.Timeout):  # not listening yet; a busy machine's slow answer
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"mockserver did not start within {START_SECONDS} s")

    def output(self) -> str:
        """Everything the server printed so far."""
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        """Stop the server and return what it printed (again, if it was already stopped)."""
        if self.log.closed:
            return self._printed
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):  # a worker process that outlived the main one
            os.killpg(self.process.pid, signal.SIGKILL)
        self._printed = self.output()
        self.log.close()
        return self._printed


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    server = LiveServer("--strict", "--seed", "1", "--today", TODAY, "--rate-limit", "1000000")
    yield server
    exited = server.process.poll()  # None: still serving, as it should be until now
    printed = server.stop()
    if exited is not None:  # every later test of this worker failed on it: say why it ended
        pytest.fail(f"the shared live server exited ({exited}) while tests used it; it printed:\n{printed[-6000:]}")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per usable CPU (``--maxprocesses`` caps it), since most tests wait on a server.

    A live test spends most of its time waiting for the processes it started and their answers, so one
    worker per CPU left the two CPUs of a CI machine a third idle: with four workers the suite took 15 to 17
    minutes there, with two 17 to 22.
    """
    return 2 * len(os.sched_getaffinity(0))


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups once, when a worker collects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``--dist loadgroup``) a test spreads to any worker, save that the tests of a module
    sharing a module or class fixture stay on one worker, so that fixture is set up once."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if {fixture.scope for chain in defs for fixture in chain} & {"module", "class", "package"}:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
