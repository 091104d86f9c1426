"""Answering the proxy's approval questions from a notebook: a setting, or an Approve / Deny widget prompt.

``%config SentinelMagics.approve`` is ``deny`` (the default: nbval and other unattended runs refuse every ASK),
``allow`` (approve every ASK, for trusted replays) or ``ask`` (show the call with Approve / Deny buttons and wait,
at most ``timeout`` seconds, for a click; no click refuses).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import json
from typing import Any

__all__ = ["APPROVE_SETTINGS", "ApprovalWidget", "answer"]

APPROVE_SETTINGS: tuple[str, ...] = ("deny", "allow", "ask")


class ApprovalWidget:
    """One approval question as ipywidgets: the tool, its arguments and the reason, with Approve / Deny."""

    def __init__(self, prompt: Any) -> None:
        import ipywidgets as w

        args = json.dumps(dict(prompt.arguments), indent=1, sort_keys=True, ensure_ascii=False, default=repr)
        self.future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self.label = w.HTML(
            f"<b>Approve one call of <code>{html.escape(prompt.tool)}</code>?</b> "
            f"<small>{html.escape(prompt.reason)}</small><pre>{html.escape(args[:2000])}</pre>"
        )
        self.approve_button = w.Button(description="Approve", button_style="warning", icon="check")
        self.deny_button = w.Button(description="Deny", button_style="danger", icon="times")
        self.approve_button.on_click(lambda _: self.decide(True))
        self.deny_button.on_click(lambda _: self.decide(False))
        self.box = w.VBox([self.label, w.HBox([self.approve_button, self.deny_button])])

    def decide(self, approved: bool) -> None:
        """Settle the question once (later clicks change nothing) and show the answer."""
        if self.future.done():
            return
        self.future.set_result(approved)
        self.approve_button.disabled = self.deny_button.disabled = True
        self.label.value += "<b>approved</b>" if approved else "<b>denied</b>"

    def show(self) -> None:
        from IPython.display import display

        display(self.box)


async def answer(setting: str, prompt: Any, *, timeout: float = 60.0, widget: Any = None) -> bool:
    """The answer to one approval question under ``setting`` (an unknown setting refuses)."""
    if setting == "allow":
        return True
    if setting != "ask":
        return False
    asked: Any = widget if widget is not None else ApprovalWidget(prompt)
    if widget is None:
        asked.show()
    future: concurrent.futures.Future[Any] = asked.future
    await asyncio.wait({asyncio.wrap_future(future)}, timeout=timeout)  # never cancels the question itself
    asked.decide(False)  # no click in time refuses (a click that came first stands)
    return bool(future.result())
