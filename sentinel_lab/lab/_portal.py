"""One long-lived event loop on a background thread, for running async work from synchronous magics.

A Jupyter kernel already runs an event loop on its main thread, so a magic cannot ``asyncio.run`` anything. The
extension owns one ``anyio`` blocking portal instead; magics submit coroutines to it and wait on the future.
Waiting is interruptible: Ctrl-C (``KeyboardInterrupt``) or a timeout cancels the task, so nothing keeps running.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["Cancelled", "Portal", "TimedOut"]

T = TypeVar("T")


class TimedOut(Exception):
    """The awaited task took longer than its timeout and was cancelled."""


class Cancelled(Exception):
    """The wait was interrupted (Ctrl-C) and the task was cancelled."""


class Portal:
    """A lazily started background event loop; ``call`` runs a coroutine function there and waits for it."""

    def __init__(self, name: str = "sentinel-lab-portal") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._portal: Any = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the background loop thread is alive."""
        return self._portal is not None

    def _get(self) -> Any:
        with self._lock:
            if self._portal is None:
                ready: concurrent.futures.Future[Any] = concurrent.futures.Future()

                def runner() -> None:
                    import anyio
                    from anyio.from_thread import BlockingPortal

                    async def main() -> None:
                        async with BlockingPortal() as portal:
                            ready.set_result(portal)
                            await portal.sleep_until_stopped()

                    try:
                        anyio.run(main)
                    except BaseException as exc:
                        if not ready.done():
                            ready.set_exception(exc)

                # A daemon thread: a forgotten portal never keeps the interpreter (or the kernel) from exiting.
                thread = threading.Thread(target=runner, name=self._name, daemon=True)
                thread.start()
                self._portal = ready.result()
                self._thread = thread
            return self._portal

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = None) -> T:
        """Run ``await fn(*args)`` on the loop and return its result.

        Raises ``TimedOut`` after ``timeout`` seconds and ``Cancelled`` on Ctrl-C; in both cases the task is
        cancelled first (and given a moment to unwind) so it never keeps running in the background.
        """
        portal = self._get()
        future: concurrent.futures.Future[T] = portal.start_task_soon(fn, *args)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            if future.done() and not future.cancelled():
                return future.result()
            self._cancel(future)
            raise TimedOut(f"timed out after {timeout:g} s") from None
        except KeyboardInterrupt:
            self._cancel(future)
            raise Cancelled("interrupted") from None

    @staticmethod
    def _cancel(future: concurrent.futures.Future[Any]) -> None:
        future.cancel()
        # Give the task a chance to run its cancellation handlers (close streams, send notifications/cancelled).
        with contextlib.suppress(BaseException):
            concurrent.futures.wait([future], timeout=2.0)

    def enter(
        self, cm: Any, timeout: float | None = None, on_wait: Callable[[float], None] | None = None
    ) -> tuple[Any, Callable[[float], None]]:
        """Enter the async context manager ``cm`` on the loop and keep it open in its own task.

        ``on_wait(seconds_so_far)`` is called about twice a second while entering (a status line in the notebook).

        Returns ``(value, leave)``; ``leave(timeout)`` exits the context (in the same task that entered it, as
        anyio's cancel scopes require) and cancels it if it does not finish in time. Ctrl-C or a timeout while
        entering cancels the half-done enter.
        """
        portal = self._get()
        ready: concurrent.futures.Future[tuple[Any, Any]] = concurrent.futures.Future()

        async def hold() -> None:
            import anyio

            stop = anyio.Event()
            async with cm as value:
                ready.set_result((value, stop))
                await stop.wait()

        task: concurrent.futures.Future[None] = portal.start_task_soon(hold)
        try:
            waiting: list[concurrent.futures.Future[Any]] = [ready, task]
            done = self._wait_first(waiting, timeout, on_wait)
        except KeyboardInterrupt:
            self._cancel(task)
            raise Cancelled("interrupted") from None
        if not done:
            self._cancel(task)
            raise TimedOut(f"timed out after {timeout:g} s")
        if not ready.done():
            task.result()  # raises the enter's error
            raise RuntimeError("context manager exited while entering")
        value, stop = ready.result()

        def leave(wait: float = 5.0) -> None:
            if task.done():
                return
            with contextlib.suppress(BaseException):
                portal.call(stop.set)
            try:
                task.result(timeout=wait)
            except BaseException:
                self._cancel(task)

        return value, leave

    @staticmethod
    def _wait_first(
        waiting: list[concurrent.futures.Future[Any]], timeout: float | None, on_wait: Callable[[float], None] | None
    ) -> set[concurrent.futures.Future[Any]]:
        """Wait until one of ``waiting`` is done or ``timeout`` passes, calling ``on_wait`` every half second."""
        import time

        if on_wait is None:
            done, _ = concurrent.futures.wait(waiting, timeout, concurrent.futures.FIRST_COMPLETED)
            return done
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            step = 0.5 if timeout is None else max(0.0, min(0.5, timeout - elapsed))
            done, _ = concurrent.futures.wait(waiting, step, concurrent.futures.FIRST_COMPLETED)
            elapsed = time.monotonic() - start
            if done or (timeout is not None and elapsed >= timeout):
                return done
            with contextlib.suppress(Exception):
                on_wait(elapsed)

    def stop(self) -> None:
        """Stop the loop (cancelling pending tasks) and join its thread."""
        with self._lock:
            portal, self._portal = self._portal, None
            thread, self._thread = self._thread, None
        if portal is not None:
            with contextlib.suppress(BaseException):
                portal.call(portal.stop, True)
        if thread is not None:
            thread.join(5.0)
