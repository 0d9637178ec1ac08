"""Run parts of a suite in worker processes (``--workers N``), so the harness uses more than one core.

Generating cases and validating answers (Hypothesis, Schemathesis, jsonschema) is Python that holds the GIL:
threads in one process take turns on one core whatever the target's speed. Each worker here is a forked
process running some of the jobs (conformance: a share of the operations; stateful: some of its rounds)
with its own ``Meter``; when it is done it hands back its results and its meter's counts, which are added to
the suite's meter, so the report counts every request once. Interrupted (Ctrl-C reaches every process of the
group), each worker hands over what it checked and the suite reports it as interrupted. Where the platform
cannot fork, the jobs run one after another in this process.

A run with several workers sends the same cases (each is seeded as in one process), in another order: the
target sees the operations interleaved, so answers that depend on the target's state (ids, lists) may differ
from a run with one worker; ``--workers 1`` (the default) keeps a run exactly repeatable.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts import specdiff
from contracts.credentials.schemes import load_document
from contracts.meter import Counts, Meter
from contracts.target import Target

T = TypeVar("T")
Job = Callable[[Meter], T]


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one job handed back: its value (None when it raised), its requests, and the error it raised."""

    value: T | None
    counts: Counts
    error: str = ""
    interrupted: bool = False


def share(target: Target) -> list[frozenset[str]] | None:
    """``target``'s operations dealt out to ``target.workers`` processes; None: run in this process.

    One process when ``--workers`` is 1, the platform cannot fork, or a ``--budget`` counts requests (the
    workers could not stop at the same request). Operations are dealt round-robin in the spec's order.
    """
    budget = target.budget
    if target.workers <= 1 or not can_fork() or (budget is not None and budget.limit.requests is not None):
        return None
    chosen = labels(target)
    count = min(target.workers, len(chosen))
    return [frozenset(chosen[index::count]) for index in range(count)] if count > 1 else None


def labels(target: Target) -> list[str]:
    """The labels of the operations ``target`` tests, in the spec's order."""
    every = [operation.label for operation in specdiff.operations(load_document(target.spec_path))]
    return [label for label in every if target.operations is None or label in target.operations]


def can_fork() -> bool:
    """Whether worker processes are available here (Linux and other platforms with ``fork``)."""
    return "fork" in multiprocessing.get_all_start_methods()


def run(jobs: Sequence[Job[T]], workers: int, meter: Meter) -> list[Outcome[T]]:
    """Each job's outcome, in order; ``workers`` processes run them (job ``i`` in worker ``i % workers``).

    The outcomes' counts are added to ``meter``. A job that raised has ``error`` set (its traceback's last line).
    """
    workers = max(1, min(workers, len(jobs)))
    if workers == 1 or not can_fork():
        return [_run_one(job, meter, own_meter=False) for job in jobs]
    context = multiprocessing.get_context("fork")
    pipes = []
    processes = []
    for index in range(workers):
        mine = list(jobs[index::workers])
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(mine, send), name=f"contracts-worker-{index}", daemon=True)
        process.start()
        send.close()
        pipes.append(receive)
        processes.append(process)
    found: list[list[Outcome[T]]] = []
    interrupted = False
    for index, (receive, process) in enumerate(zip(pipes, processes, strict=True)):
        expected = len(jobs[index::workers])
        while True:
            try:
                found.append(_receive(receive, expected))
                break
            except KeyboardInterrupt:  # the workers got the same SIGINT: wait for what they checked
                interrupted = True
        process.join()
    outcomes: list[Outcome[T]] = [found[i % workers][i // workers] for i in range(len(jobs))]
    for outcome in outcomes:
        meter.absorb(outcome.counts)
    if interrupted:
        outcomes = [Outcome(outcome.value, outcome.counts, outcome.error, interrupted=True) for outcome in outcomes]
    return outcomes


def _run_one(job: Job[T], meter: Meter, *, own_meter: bool) -> Outcome[T]:
    used = Meter() if own_meter else meter
    try:
        value = job(used)
    except KeyboardInterrupt:
        if not own_meter:
            raise
        return Outcome(None, used.counts(), interrupted=True)
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        return Outcome(None, used.counts() if own_meter else Counts(), last)
    return Outcome(value, used.counts() if own_meter else Counts())


def _worker(jobs: list[Job[T]], send: multiprocessing.connection.Connection) -> None:
    """In a worker process: run ``jobs`` one after another, send their outcomes, exit without cleanup."""
    outcomes = [_run_one(job, Meter(), own_meter=True) for job in jobs]
    try:
        send.send_bytes(pickle.dumps(outcomes))
    finally:
        send.close()
        os._exit(0)  # no atexit handlers, nothing the parent owns is flushed twice


def _receive(receive: multiprocessing.connection.Connection, expected: int) -> list[Outcome[T]]:
    try:
        outcomes: list[Outcome[T]] = pickle.loads(receive.recv_bytes())  # noqa: S301 - our own forked worker
    except EOFError:
        return [Outcome(None, Counts(), "the worker process died before it reported")] * expected
    return outcomes
