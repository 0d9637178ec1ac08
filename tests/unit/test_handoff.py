"""mockserver.handoff: calls run in the loop's threads, results and exceptions come back, stop drops waiting calls."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mockserver.handoff import LoopThreads


def test_each_call_runs_in_a_thread_and_its_result_comes_back_to_its_awaiter() -> None:
    async def main() -> list[tuple[int, str]]:
        threads = LoopThreads(asyncio.get_running_loop(), 3, "test")
        try:
            return await asyncio.gather(
                *(threads.run(lambda n=n: (n * n, threading.current_thread().name)) for n in range(20))
            )
        finally:
            threads.stop()

    answers = asyncio.run(main())
    assert [square for square, _ in answers] == [n * n for n in range(20)]
    assert {name for _, name in answers} <= {"test_0", "test_1", "test_2"}
    assert threading.current_thread().name not in {name for _, name in answers}


def test_an_exception_reaches_the_awaiter_and_the_thread_goes_on() -> None:
    def fail() -> None:
        raise ValueError("broken")

    async def main() -> int:
        threads = LoopThreads(asyncio.get_running_loop(), 1, "test")
        try:
            with pytest.raises(ValueError, match="broken"):
                await threads.run(fail)
            return await threads.run(lambda: 7)
        finally:
            threads.stop()

    assert asyncio.run(main()) == 7


def test_stop_cancels_the_calls_not_yet_started_and_lets_the_one_in_hand_finish() -> None:
    release, started, ran = threading.Event(), threading.Event(), []

    def hold() -> str:
        started.set()
        release.wait(5)
        return "finished"

    async def main() -> tuple[str, bool]:
        threads = LoopThreads(asyncio.get_running_loop(), 1, "test")
        in_hand = threads.run(hold)
        waiting = threads.run(lambda: ran.append("ran"))
        await asyncio.to_thread(started.wait, 5)
        threads.stop()
        release.set()
        with pytest.raises(RuntimeError, match="stopped"):
            threads.run(lambda: None)
        result = await in_hand  # settled after the cancellation stop() scheduled first
        return result, waiting.cancelled()

    assert asyncio.run(main()) == ("finished", True)
    assert ran == []


def test_a_call_whose_awaiter_went_away_is_not_run() -> None:
    release, started, ran = threading.Event(), threading.Event(), []

    async def main() -> None:
        threads = LoopThreads(asyncio.get_running_loop(), 1, "test")
        try:
            threads.run(lambda: (started.set(), release.wait(5)))
            abandoned = threads.run(lambda: ran.append("ran"))
            abandoned.cancel()  # the client disconnected while its request waited for a thread
            await asyncio.to_thread(started.wait, 5)
            release.set()
            assert await threads.run(lambda: "next") == "next"
        finally:
            threads.stop()

    asyncio.run(main())
    assert ran == []
