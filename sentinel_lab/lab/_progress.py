"""Feedback while a cell works: a status line updated in place (proxy start-up) and a progress bar for many calls.

Both go through IPython's display machinery (``display_id`` updates), so a frontend shows one line that changes
rather than a stream of prints; without IPython they do nothing.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["Status", "StatusLine", "progress"]


class StatusLine:
    """One line of status text, as HTML (muted, theme colours) and as plain text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return (
            '<div class="sl-lab sl-status" style="color:var(--jp-ui-font-color2,inherit);'
            f'font-size:var(--jp-ui-font-size1,12px)">{html.escape(self.text)}</div>'
        )

    def __repr__(self) -> str:
        return self.text


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def progress(total: int, desc: str) -> Any:
    """A tqdm progress bar (the notebook widget when one can be drawn), or None when tqdm is missing."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, leave=False)


class Status:
    """The feedback of one cell: ``show(text)`` replaces the status line, ``start/tick`` drive the bar."""

    def __init__(self, bar: bool) -> None:
        self._want_bar = bar
        self._handle: Any = None
        self._bar: Any = None
        self._live = _in_kernel()

    def show(self, text: str, *, final: bool = False) -> None:
        """Show ``text`` as the cell's status line (the same line, updated in place). Without a kernel (a terminal,
        where updates would be printed one after another) only the first and the ``final`` line are shown."""
        try:
            from IPython.display import display
        except ImportError:
            return
        line = StatusLine(text)
        if self._handle is None:
            self._handle = display(line, display_id=True)
        elif self._live or final:
            self._handle.update(line)

    def start(self, total: int) -> None:
        """Begin counting ``total`` calls (a bar only for cells with many calls)."""
        if self._want_bar and total and self._bar is None:
            self._bar = progress(total, "calls")

    def tick(self) -> None:
        """One more call done."""
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """Remove the bar (the status line stays: it says how long the start-up took)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
