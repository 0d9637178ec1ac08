"""Quick kinds of request run on the event loop; unseen, slow, admin and stalling ones in a thread."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from werkzeug.wrappers import Response

from mockserver import waits
from mockserver.dispatch import CostModel, kind_of
from mockserver.rsgi import WsgiOverRsgi
from mockserver.waits import descheduled_seconds, elsewhere_seconds, queueing, waiting_on_server, working_elsewhere
from tests.unit.test_rsgi import _Protocol, _Scope


def test_requests_that_cost_alike_share_a_kind() -> None:
    assert kind_of("GET", "/api/v1/invoices/17", "") == kind_of("GET", "/api/v1/invoices/2", "")
    pdf = kind_of("GET", "/api/v1/invoices/INV-0042/pdf", "")
    assert pdf == kind_of("GET", "/api/v1/invoices/INV-0043/pdf", "") != kind_of("GET", "/api/v1/invoices/7", "")
    assert kind_of("GET", "/api/v1/customers", "limit=20&sort=name") == kind_of(
        "GET", "/api/v1/customers", "sort=-name&limit=5"
    )
    assert kind_of("GET", "/api/v1/customers", "search=son") != kind_of("GET", "/api/v1/customers", "limit=20")
    assert kind_of("POST", "/api/v1/customers", "") != kind_of("GET", "/api/v1/customers", "")
    uuid = "0b6e3c1e-6f0a-4b8e-9c55-2f1d7d0c8a11"
    assert kind_of("GET", f"/api/v1/things/{uuid}", "") == kind_of("GET", "/api/v1/things/cus_7", "")


def test_a_kind_is_quick_once_seen_within_the_budget_and_until_it_proves_slow() -> None:
    costs = CostModel(budget_seconds=0.002)
    assert not costs.quick("GET /a ?")  # never seen: it might be slow
    costs.observe("GET /a ?", 0.0005, on_loop=False)
    assert costs.quick("GET /a ?")
    for _ in range(10):
        costs.observe("GET /a ?", 0.050, on_loop=False)  # the table grew
    assert not costs.quick("GET /a ?")
    for _ in range(30):
        costs.observe("GET /a ?", 0.0005, on_loop=False)
    assert costs.quick("GET /a ?")


def test_a_kind_that_overran_on_the_loop_is_held_back_longer_each_time() -> None:
    costs = CostModel(budget_seconds=0.002)
    costs.observe("GET /b ?", 0.0001, on_loop=False)  # its CPU time: waiting does not show in a thread
    held: list[int] = []
    for _ in range(3):
        assert costs.quick("GET /b ?")
        costs.observe("GET /b ?", 0.5, on_loop=True)  # on the loop, the wait shows
        runs = 0
        while not costs.quick("GET /b ?"):
            costs.observe("GET /b ?", 0.0001, on_loop=False)
            runs += 1
        held.append(runs)
    assert held[0] >= 16
    assert held[1] >= 2 * held[0]
    assert held[2] >= 2 * held[1]


def test_a_run_over_the_budget_now_and_then_keeps_a_kind_on_the_loop_but_a_long_block_does_not() -> None:
    costs = CostModel(budget_seconds=0.002)
    costs.observe("POST /c ?", 0.0008, on_loop=False)
    for run in range(200):  # one run in ten descheduled mid-request on a busy machine: 3 ms instead of 1
        assert costs.quick("POST /c ?"), run
        costs.observe("POST /c ?", 0.003 if run % 10 == 9 else 0.001, on_loop=True)
    costs.observe("POST /c ?", 0.003, on_loop=True)
    costs.observe("POST /c ?", 0.003, on_loop=True)  # twice in a row: it is the kind, not the machine
    assert not costs.quick("POST /c ?")

    costs.observe("POST /d ?", 0.0008, on_loop=False)
    costs.observe("POST /d ?", 0.040, on_loop=True)  # 20 times the budget at once: it waited on something
    assert not costs.quick("POST /d ?")


def test_the_kinds_remembered_are_bounded() -> None:
    costs = CostModel()
    for number in range(10_000):
        costs.observe(f"GET /x/{number} ?", 0.001, on_loop=False)
    assert not costs.quick("GET /x/0 ?")
    assert costs.quick("GET /x/9999 ?")


def _serve(adapter: WsgiOverRsgi, requests: list[_Scope]) -> list[str]:
    """Send the requests one after another; return the name of the thread that answered each."""
    answered: list[str] = []
    loop = asyncio.new_event_loop()
    try:
        adapter.__rsgi_init__(loop)
        for scope in requests:
            protocol = _Protocol([])
            loop.run_until_complete(adapter.__rsgi__(scope, protocol))  # type: ignore[arg-type]
            assert protocol.answer is not None
            answered.append(protocol.answer[2].decode())
        adapter.__rsgi_del__(loop)
    finally:
        loop.close()
    return answered


def _thread_naming_app(pause: dict[str, float], busy: dict[str, float] | None = None) -> Any:
    """Answers with the name of its thread, after sleeping or computing for as long as the path says."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        time.sleep(pause.get(environ["PATH_INFO"], 0.0))
        until = time.thread_time() + (busy or {}).get(environ["PATH_INFO"], 0.0)
        while time.thread_time() < until:
            pass
        return Response(threading.current_thread().name)(environ, start_response)

    return app


LOOP = threading.main_thread().name


def test_a_quick_kind_runs_on_the_loop_after_its_first_request_and_a_slow_one_stays_in_a_thread() -> None:
    app = _thread_naming_app({"/sleepy": 0.05}, busy={"/busy": 0.05})
    adapter = WsgiOverRsgi(app, threads=2, max_body_bytes=100, body_timeout=5)
    adapter.costs = CostModel(budget_seconds=0.02)
    answered = _serve(adapter, [_Scope(path="/quick")] * 3 + [_Scope(path="/busy")] * 5)
    assert answered[0] != LOOP  # first seen: a thread
    assert answered[1:3] == [LOOP, LOOP]
    assert LOOP not in answered[3:]  # 50 ms of computing never holds up the loop
    sleepy = _serve(adapter, [_Scope(path="/sleepy")] * 12)
    assert sleepy.count(LOOP) <= 2  # a wait shows only on the loop: tried there twice, then held back


def test_a_wait_for_the_write_lock_behind_another_writer_does_not_make_a_kind_slow() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        with queueing():  # as a write queued for another worker's transaction to end
            time.sleep(0.05)
        return Response(threading.current_thread().name)(environ, start_response)

    adapter = WsgiOverRsgi(app, threads=2, max_body_bytes=100, body_timeout=5)
    adapter.costs = CostModel(budget_seconds=0.02)
    answered = _serve(adapter, [_Scope(path="/write")] * 6)
    assert answered[1:] == [LOOP] * 5  # in a thread it would wait as long, and pay the hand-over besides


@pytest.mark.parametrize(
    "waiting",
    [working_elsewhere, waiting_on_server],
    ids=["a PDF the worker's helper process renders", "a search PostgreSQL spends 50 ms on"],
)
def test_a_kind_that_waits_for_work_done_elsewhere_stays_in_a_thread(
    waiting: Callable[[], AbstractContextManager[None]],
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        with waiting():  # no CPU here, yet slow
            time.sleep(0.05)
        return Response(threading.current_thread().name)(environ, start_response)

    adapter = WsgiOverRsgi(app, threads=2, max_body_bytes=100, body_timeout=5)
    adapter.costs = CostModel(budget_seconds=0.02)
    assert LOOP not in _serve(adapter, [_Scope(path="/slow")] * 6)


class _Clocks:
    """A thread's wall, CPU and descheduled clocks, moved by hand (real ones drift apart on a loaded machine)."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.descheduled = 100.0

    def perf_counter(self) -> float:
        return self.wall

    def thread_time(self) -> float:
        return self.cpu


def test_a_wait_on_the_server_leaves_out_the_threads_own_cpu_and_its_wait_for_a_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clocks = _Clocks()
    monkeypatch.setattr(waits, "time", clocks)
    monkeypatch.setattr(waits, "descheduled_seconds", lambda: clocks.descheduled)
    elsewhere = elsewhere_seconds()
    with waiting_on_server():  # 100 ms: 30 sending the statement and reading the answer, 20 waiting for a CPU
        clocks.wall += 0.1
        clocks.cpu += 0.03
        clocks.descheduled += 0.02
    assert elsewhere_seconds() - elsewhere == pytest.approx(0.05)
    with waiting_on_server():  # all of it the thread's own CPU: nothing waited for elsewhere
        clocks.wall += 0.05
        clocks.cpu += 0.05
    assert elsewhere_seconds() - elsewhere == pytest.approx(0.05)


def test_admin_paths_and_a_stalling_app_always_get_a_thread() -> None:
    stalls = {"now": False}

    def may_stall(environ: dict[str, Any]) -> bool:
        return stalls["now"]

    adapter = WsgiOverRsgi(
        _thread_naming_app({}),
        threads=2,
        max_body_bytes=100,
        body_timeout=5,
        may_stall=may_stall,
        threaded_prefixes=("/__sandbox",),
    )
    assert _serve(adapter, [_Scope(path="/__sandbox/journal")] * 3).count(LOOP) == 0
    assert _serve(adapter, [_Scope(path="/api")] * 2)[1] == LOOP
    stalls["now"] = True  # a latency fault was injected: the app will sleep on purpose
    assert _serve(adapter, [_Scope(path="/api")] * 2).count(LOOP) == 0


def test_a_failing_stall_check_sends_the_request_to_a_thread_where_the_app_answers_it() -> None:
    def may_stall(environ: dict[str, Any]) -> bool:
        raise RuntimeError("the store is closed")

    adapter = WsgiOverRsgi(_thread_naming_app({}), threads=1, max_body_bytes=100, body_timeout=5, may_stall=may_stall)
    answered = _serve(adapter, [_Scope(path="/api")] * 3)
    assert len(answered) == 3
    assert LOOP not in answered


def test_a_threads_time_waiting_for_a_cpu_reads_as_a_growing_count_and_its_file_closes_with_the_thread() -> None:
    readings: list[float] = []

    def read_twice() -> None:
        readings.append(descheduled_seconds())
        readings.append(descheduled_seconds())

    open_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    for _ in range(20):
        thread = threading.Thread(target=read_twice)
        thread.start()
        thread.join()
    assert all(0.0 <= first <= second for first, second in zip(readings[::2], readings[1::2], strict=True))
    if open_before:
        assert len(os.listdir("/proc/self/fd")) <= open_before + 1  # no descriptor left by the ended threads
