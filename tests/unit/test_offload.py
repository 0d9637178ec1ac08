"""CPU-heavy work runs inline, or in a helper process: reused, replaced when it dies, ended with its parent."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.behaviours.offload import HELPER_NICENESS, Offload, OffloadError
from mockserver.waits import elsewhere_seconds


def process_id() -> int:
    return os.getpid()


def die_the_first_time(marker: str) -> int:
    """Kill the process running it the first time (as the out-of-memory killer would), then answer."""
    if not Path(marker).exists():
        Path(marker).touch()
        os._exit(1)
    return os.getpid()


def always_die() -> None:
    os._exit(1)


def scheduling() -> tuple[int, int, str]:
    """This process's session, niceness, and its session's group as Linux's autogroups see it ("" where unsettable)."""
    autogroup = Path("/proc/self/autogroup")
    settable = autogroup.exists() and os.access(autogroup, os.W_OK)  # (a read-only /proc: the helper cannot either)
    return os.getsid(0), os.nice(0), autogroup.read_text().strip() if settable else ""


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def refuse(message: str) -> None:
    raise ValueError(message)


def set_aside(folder: str) -> int:
    """Make a folder the helper removes as it exits (as the fonts of its PDFs are), and answer its process id."""
    os.mkdir(folder)
    atexit.register(shutil.rmtree, folder, True)
    return os.getpid()


@pytest.fixture
def helper() -> Iterator[Offload]:
    offload = Offload(in_helper=True)
    yield offload
    offload.close()


def test_inline_work_runs_in_this_process() -> None:
    assert Offload().run(process_id) == os.getpid()


def test_helper_work_runs_in_one_other_process_kept_between_runs_and_its_errors_reach_the_caller(
    helper: Offload,
) -> None:
    first = helper.run(process_id)
    assert first != os.getpid()
    with pytest.raises(ValueError, match="no such invoice"):
        helper.run(refuse, "no such invoice")
    assert helper.run(process_id) == first


def test_a_helper_that_dies_is_replaced_and_the_work_tried_again(helper: Offload, tmp_path: Path) -> None:
    first = helper.run(process_id)
    answered_by = helper.run(die_the_first_time, str(tmp_path / "died"))
    assert answered_by not in (first, os.getpid())
    assert helper.run(process_id) == answered_by


def test_work_that_kills_every_helper_fails_with_a_clear_error_and_the_next_work_gets_a_new_one(
    helper: Offload,
) -> None:
    with pytest.raises(OffloadError, match="stopped twice while running always_die"):
        helper.run(always_die)
    assert helper.run(process_id) != os.getpid()


def test_waiting_for_the_helper_counts_as_the_calling_thread_s_time(helper: Offload) -> None:
    helper.run(process_id)  # started: the wait below is the work's alone
    before = elsewhere_seconds()
    helper.run(nap, 0.2)
    assert elsewhere_seconds() - before >= 0.2


def test_a_helper_asked_to_stop_removes_what_it_set_aside(helper: Offload, tmp_path: Path) -> None:
    folder = tmp_path / "set-aside"
    helper_pid = helper.run(set_aside, str(folder))
    os.kill(helper_pid, signal.SIGTERM)
    _wait_for_end(helper_pid)
    assert not folder.exists()
    assert helper.run(process_id) not in (helper_pid, os.getpid())  # a new helper does the next work


def test_a_helper_yields_the_cpu_to_requests_in_a_nicer_session_of_its_own(helper: Offload) -> None:
    helper_pid = helper.run(process_id)
    session, niceness, autogroup = helper.run(scheduling)
    assert session == helper_pid != os.getsid(0)
    assert niceness == min(os.nice(0) + HELPER_NICENESS, 19)
    if autogroup:  # Linux with autogroups: the helper's session weighs less than its worker's
        assert autogroup.endswith(f"nice {HELPER_NICENESS}")
        assert scheduling()[2] != autogroup


def test_a_helper_leaves_the_terminal_s_ctrl_c_to_the_worker_that_started_it(helper: Offload) -> None:
    # A process started with Ctrl-C ignored (as a test runner's workers may be) passes that on to the helper.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        helper_pid = helper.run(process_id)
    finally:
        signal.signal(signal.SIGINT, previous)
    os.kill(helper_pid, signal.SIGINT)  # Ctrl-C reaches every process of the group; the worker stops its helper
    assert helper.run(process_id) == helper_pid


def test_a_helper_ends_when_the_process_that_started_it_is_killed_and_removes_what_it_set_aside(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "set-aside"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from mockserver.behaviours.offload import Offload\n"
            "from tests.unit.test_offload import set_aside\n"
            f"print(Offload(in_helper=True).run(set_aside, {str(folder)!r}), flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert parent.stdout is not None
        helper_pid = int(parent.stdout.readline())
        assert _alive(helper_pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    _wait_for_end(helper_pid)
    assert not folder.exists()


def _wait_for_end(pid: int) -> None:
    """Wait until a process has ended (30 s at most)."""
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, ended but not yet reaped by its new parent, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
