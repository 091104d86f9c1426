"""Answering the proxy's approval questions (policy ``ASK``) from a notebook: a setting, or an Approve / Deny prompt.

``%config SentinelMagics.approve`` is ``deny`` (the default: nbval and other unattended runs refuse every ASK),
``allow`` (approve every ASK, for trusted replays) or ``widget`` (show the call with Approve / Deny buttons and
wait, at most ``timeout`` seconds, for a click; no click refuses).

A ``%%sentinel`` cell blocks the kernel's main thread while its calls run, so a click could not be handled
before the cell ends. The prompt's buttons therefore answer on a kernel subshell of their own (ipykernel 7's
subshells, created for the prompt and deleted after it): the click is handled at once while the cell waits.
Where subshells are not available, the click arrives only after the cell, the wait runs out and the call is
refused (fail closed).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import json
from collections.abc import Callable
from typing import Any

__all__ = ["APPROVE_SETTINGS", "ApprovalWidget", "answer"]

APPROVE_SETTINGS: tuple[str, ...] = ("deny", "allow", "widget")
_ARGS_CHARS = 4000


class ApprovalWidget:
    """One approval question as ipywidgets: the tool, the reason and the arguments, with Approve / Deny."""

    def __init__(self, prompt: Any) -> None:
        import ipywidgets as w

        args = json.dumps(dict(prompt.arguments), indent=1, sort_keys=True, ensure_ascii=False, default=repr)
        if len(args) > _ARGS_CHARS:
            args = f"{args[:_ARGS_CHARS]}… ({len(args) - _ARGS_CHARS} more characters)"
        self.future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self.label = w.HTML(
            f"<b>Approve one call of <code>{html.escape(prompt.tool)}</code>?</b> "
            f"<small>{html.escape(prompt.reason)}</small><pre>{html.escape(args)}</pre>"
        )
        self.approve_button = w.Button(description="Approve", button_style="warning", icon="check")
        self.deny_button = w.Button(description="Deny", button_style="danger", icon="times")
        self.approve_button.on_click(lambda _: self.decide(True))
        self.deny_button.on_click(lambda _: self.decide(False))
        self.box = w.VBox([self.label, w.HBox([self.approve_button, self.deny_button])])
        self._release: Callable[[], None] = lambda: None

    def decide(self, approved: bool) -> None:
        """Settle the question once (later clicks change nothing) and show the answer."""
        if self.future.done():
            return
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            self.future.set_result(approved)
        self.approve_button.disabled = self.deny_button.disabled = True
        self.label.value += "<b>approved</b>" if approved else "<b>denied</b>"
        self._release()

    def show(self) -> None:
        """Display the prompt in the running cell, its buttons answering on a subshell when the kernel has them."""
        from IPython.display import display

        self._release = _answer_on_subshell([self.approve_button, self.deny_button])  # before a click can come
        display(self.box)


def _answer_on_subshell(buttons: list[Any]) -> Callable[[], None]:
    """Route the buttons' frontend messages to a new kernel subshell (so a click is handled while the cell
    runs); returns what deletes it again. Does nothing outside an ipykernel with subshells."""
    try:
        from ipykernel.kernelbase import Kernel

        if not Kernel.initialized():
            return lambda: None
        kernel = Kernel.instance()
        channel = getattr(kernel, "shell_channel_thread", None)
        manager = getattr(channel, "manager", None)
        if channel is None or manager is None or not hasattr(manager, "_create_subshell"):
            return lambda: None
        created: concurrent.futures.Future[str] = concurrent.futures.Future()

        def create() -> None:
            try:
                created.set_result(manager._create_subshell())
            except BaseException as exc:
                created.set_exception(exc)

        channel.io_loop.add_callback(create)
        subshell = created.result(timeout=5.0)
    except Exception:  # an ipykernel without (these) subshells: the click waits for the cell's end
        return lambda: None
    for button in buttons:
        button.comm._reply_subshell_id = subshell

    def release() -> None:
        with contextlib.suppress(Exception):
            channel.io_loop.add_callback(manager._delete_subshell, subshell)

    return release


async def answer(setting: str, prompt: Any, *, timeout: float = 60.0, widget: Any = None) -> bool:
    """The answer to one approval question under ``setting`` (an unknown setting refuses); ``widget``: an
    ``ApprovalWidget`` already made (else one is made and shown)."""
    if setting == "allow":
        return True
    if setting != "widget":
        return False
    asked: Any = widget
    if asked is None:
        asked = ApprovalWidget(prompt)
        asked.show()
    future: concurrent.futures.Future[Any] = asked.future
    try:
        await asyncio.wait({asyncio.wrap_future(future)}, timeout=timeout)  # never cancels the question itself
    finally:
        asked.decide(False)  # no click in time (or the call went away) refuses; a click that came first stands
    return bool(future.result())
