"""Awaiting from synchronous code: the one way the package runs an awaitable to completion outside a loop.

``asyncio.run`` refuses to start while a loop runs in the calling thread (a Jupyter kernel, an ASGI app calling
sync code); then the awaitable runs on a fresh loop in a short-lived helper thread and the caller waits for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def run_sync(awaitable: Awaitable[T], *, thread_name: str = "sentinel-run-sync") -> T:
    """Run ``awaitable`` to completion and return its result (or raise its error) in the caller's thread:
    directly with ``asyncio.run`` when no loop runs here, else on a new loop in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(awaitable))
    values: list[T] = []
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            values.append(asyncio.run(_await(awaitable)))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    t = threading.Thread(target=runner, name=thread_name, daemon=True)
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return values[0]
