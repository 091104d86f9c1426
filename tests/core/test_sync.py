"""Running an awaitable from sync code, with and without an event loop already running in the thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator

import pytest

from sentinel_lab._core.sync import run_sync


async def _answer(value: int) -> tuple[int, str]:
    await asyncio.sleep(0)
    return value, threading.current_thread().name


async def _fail() -> None:
    await asyncio.sleep(0)
    raise KeyError("boom")


def test_runs_in_the_calling_thread_when_no_loop_runs() -> None:
    value, thread = run_sync(_answer(7))
    assert value == 7 and thread == threading.current_thread().name


def test_runs_on_a_helper_thread_inside_a_running_loop() -> None:
    async def main() -> tuple[int, str]:
        return run_sync(_answer(3), thread_name="helper-under-test")

    value, thread = asyncio.run(main())
    assert value == 3 and thread == "helper-under-test"


def test_errors_reach_the_caller_in_both_cases() -> None:
    with pytest.raises(KeyError, match="boom"):
        run_sync(_fail())

    async def main() -> None:
        run_sync(_fail())

    with pytest.raises(KeyError, match="boom"):
        asyncio.run(main())


def test_accepts_any_awaitable_not_only_coroutines() -> None:
    async def main() -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(5)
        return await future

    assert run_sync(main()) == 5

    class Ready:
        """An awaitable that is not a coroutine (as a custom check may return)."""

        def __await__(self) -> Generator[None, None, int]:
            yield from ()
            return 9

    assert run_sync(Ready()) == 9
