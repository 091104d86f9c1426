"""The notebook's approval answers: the settings, and the Approve / Deny widget clicked for real."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("ipywidgets")

from sentinel_lab._mcp.sdk import ApprovalPrompt
from sentinel_lab.lab._approve import ApprovalWidget, answer

PROMPT = ApprovalPrompt("send_email", {"to": "<alice@example.com>"}, "approval required: tool 'send_email'", "r")


def test_settings_answer_without_asking() -> None:
    assert asyncio.run(answer("allow", PROMPT)) is True
    assert asyncio.run(answer("deny", PROMPT)) is False
    assert asyncio.run(answer("anything else", PROMPT)) is False


@pytest.mark.parametrize(("button", "expected"), [("approve_button", True), ("deny_button", False)])
def test_the_widget_answers_with_the_button_clicked(button: str, expected: bool) -> None:
    widget = ApprovalWidget(PROMPT)
    assert "send_email" in widget.label.value and "&lt;alice@example.com&gt;" in widget.label.value  # escaped

    async def main() -> bool:
        asked = asyncio.ensure_future(answer("ask", PROMPT, widget=widget, timeout=30))
        await asyncio.sleep(0)
        getattr(widget, button).click()
        return await asked

    assert asyncio.run(main()) is expected
    assert widget.approve_button.disabled and widget.deny_button.disabled
    widget.approve_button.click()  # a later click changes nothing
    assert widget.future.result() is expected


def test_no_click_in_time_refuses() -> None:
    widget = ApprovalWidget(PROMPT)
    assert asyncio.run(answer("ask", PROMPT, widget=widget, timeout=0.01)) is False
    assert widget.future.result() is False and widget.deny_button.disabled
