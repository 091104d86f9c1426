"""The notebook's approval answers: the settings, the Approve / Deny widget clicked through its handlers, and the
``%%sentinel --upstream`` magic in a real kernel answering a policy ASK by setting and by a click that a
frontend would send (a ``comm_msg`` on the shell channel while the cell is still running)."""

from __future__ import annotations

import asyncio
import json
import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ipywidgets")

from _kernel import RealKernel

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
        asked = asyncio.ensure_future(answer("widget", PROMPT, widget=widget, timeout=30))
        await asyncio.sleep(0)
        getattr(widget, button).click()  # what a click in the browser runs: the button's click handlers
        return await asked

    assert asyncio.run(main()) is expected
    assert widget.approve_button.disabled and widget.deny_button.disabled
    assert ("approved" if expected else "denied") in widget.label.value
    widget.approve_button.click()  # a later click changes nothing
    assert widget.future.result() is expected


def test_no_click_in_time_refuses() -> None:
    widget = ApprovalWidget(PROMPT)
    assert asyncio.run(answer("widget", PROMPT, widget=widget, timeout=0.01)) is False
    assert widget.future.result() is False and widget.deny_button.disabled


# ----------------------------------------------------------------------------------------------- in a kernel

jupyter_client = pytest.importorskip("jupyter_client")

TOOL_SERVER = """\
import sys
from pathlib import Path
from mcp.server import MCPServer

app = MCPServer("approve-test")

@app.tool()
def send_email(to: str, body: str) -> str:
    with Path("sent.txt").open("a") as f:
        f.write(to + "\\n")
    return f"sent to {to}"

if __name__ == "__main__":
    app.run()
"""

POLICY = """\
static_rules:
  send_email: ASK
verifier: {enabled: false}
"""


class Kernel(RealKernel):
    """A real IPython kernel; ``run`` executes a cell and returns its iopub messages (and the reply)."""

    def run(self, code: str, on_message: Any = None, timeout: float = 120) -> tuple[dict[str, Any], list[Any]]:
        seen: list[dict[str, Any]] = []

        def hook(msg: dict[str, Any]) -> None:
            seen.append(msg)
            if on_message is not None:
                on_message(msg)

        return self.execute(code, hook, timeout), seen

    def ok(self, code: str, on_message: Any = None) -> list[dict[str, Any]]:
        reply, seen = self.run(code, on_message)
        errors = [m["content"] for m in seen if m["msg_type"] == "error"]
        assert reply["status"] == "ok" and not errors, (reply, errors)
        return seen

    def click(self, comm_id: str) -> None:
        """What a browser sends when a button is clicked."""
        content = {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}}
        self.kc.shell_channel.send(self.kc.session.msg("comm_msg", content))


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kernel, Path]]:
    d = tmp_path_factory.mktemp("approve")
    (d / "tools.py").write_text(TOOL_SERVER)
    (d / "policy.yaml").write_text(POLICY)
    k = Kernel(d)
    try:
        k.ok("%load_ext sentinel_lab")
        yield k, d
    finally:
        k.close()


def _cell(setting: str) -> str:
    up = f'--upstream "{sys.executable} tools.py" --policy policy.yaml --session {setting}'
    return f"%%sentinel {up} -o rows\n- send_email: {{to: {setting}@example.com, body: hi}}\n"


def _rows(kernel: Kernel) -> list[tuple[str, str]]:
    seen = kernel.ok("import json as _json\nprint(_json.dumps(rows[['decision', 'policy']].values.tolist()))")
    text = "".join(m["content"].get("text", "") for m in seen if m["msg_type"] == "stream")
    return [(str(a), str(b)) for a, b in json.loads(text)]


def _sent(d: Path) -> list[str]:
    path = d / "sent.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_the_magic_answers_by_setting(kernel: tuple[Kernel, Path]) -> None:
    k, d = kernel
    assert "must be one of" in str(k.run("%config SentinelMagics.approve = 'sometimes'")[1])
    k.ok("%config SentinelMagics.approve = 'deny'")
    k.ok(_cell("deny"))
    assert _rows(k) == [("block", "approval")]
    k.ok("%config SentinelMagics.approve = 'allow'")
    k.ok(_cell("allow"))
    assert _rows(k) == [("allow", "")]
    assert _sent(d) == ["allow@example.com"]


@pytest.mark.parametrize("button", ["Approve", "Deny"])
def test_the_widget_prompt_is_answered_while_the_cell_runs(kernel: tuple[Kernel, Path], button: str) -> None:
    k, d = kernel
    k.ok("%config SentinelMagics.approve = 'widget'\n%config SentinelMagics.timeout = 60.0")
    before = _sent(d)
    buttons: queue.Queue[str] = queue.Queue()

    found: list[str] = []

    def on_message(msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "comm_open":
            state = content.get("data", {}).get("state", {})
            if state.get("_model_name") == "ButtonModel" and state.get("description") == button:
                found.append(content["comm_id"])
        elif msg["msg_type"] == "display_data" and "application/vnd.jupyter.widget-view+json" in content["data"]:
            assert "send_email" in content["data"]["text/plain"]
            buttons.put(found[-1])  # the prompt is on screen: now a user can click

    clicker = threading.Thread(target=lambda: k.click(buttons.get(timeout=60)), daemon=True)
    clicker.start()
    k.ok(_cell(f"widget-{button.lower()}"), on_message)
    clicker.join(5)
    if button == "Approve":
        assert _rows(k) == [("allow", "")]
        assert _sent(d) == [*before, "widget-approve@example.com"]
    else:
        assert _rows(k) == [("block", "approval")]
        assert _sent(d) == before
