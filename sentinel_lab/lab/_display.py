"""Rich display objects for notebooks: a verdict table (blocked rows stand out), status and policy views.

Each object renders as HTML in a frontend and as plain text elsewhere (terminals, saved notebooks, nbval).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KeyValueView", "PolicyView", "VerdictTable", "clip"]

_ROW_STYLE = {
    "block": "background:#fde2e1;color:#7a1010;font-weight:600",
    "flag": "background:#fff4d6;color:#6b4a00",
    "allow": "",
}
_BADGE = {
    "block": "background:#c62828;color:#fff",
    "flag": "background:#f9a825;color:#000",
    "allow": "background:#2e7d32;color:#fff",
}
_TABLE_CSS = (
    "border-collapse:collapse;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;text-align:left"
)
_CELL_CSS = "border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left"


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters with a note of how much was cut."""
    if limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


class VerdictTable:
    """The result of a ``%%sentinel`` cell: one row per call with its verdict (and tool result, if run).

    ``frame`` is the recorder-schema DataFrame (plus a ``result`` column when calls went to a server);
    ``verdicts`` the Verdict objects, in cell order.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        verdicts: Sequence[Any],
        *,
        title: str = "",
        max_chars: int = 2000,
    ) -> None:
        self.frame = frame
        self.verdicts = list(verdicts)
        self.title = title
        self.max_chars = max_chars

    @property
    def blocked(self) -> int:
        """How many calls were blocked."""
        return sum(1 for v in self.verdicts if not v.allowed)

    def summary(self) -> str:
        """One line: how many calls, how many blocked or flagged."""
        n = len(self.verdicts)
        flagged = sum(1 for v in self.verdicts if getattr(v, "decision", "") == "flag")
        parts = [f"{n} call{'s' if n != 1 else ''}", f"{self.blocked} blocked"]
        if flagged:
            parts.append(f"{flagged} flagged")
        return ", ".join(parts)

    def _rows(self) -> list[dict[str, str]]:
        rows = []
        has_result = "result" in self.frame.columns
        for i, rec in enumerate(self.frame.to_dict("records")):
            row = {
                "#": str(i + 1),
                "tool": str(rec["tool"]),
                "args": clip(str(rec["args"]), 200),
                "decision": str(rec["decision"]),
                "policy": str(rec["policy"]),
                "severity": str(rec["severity"]),
                "reason": clip(str(rec["reason"]), 300) if rec["decision"] != "allow" else "",
                "taints": str(rec["taints"]),
            }
            if has_result:
                value = rec.get("result")
                row["result"] = "" if value is None or value != value else clip(str(value), self.max_chars)
            rows.append(row)
        return rows

    def _repr_html_(self) -> str:
        rows = self._rows()
        cols = list(rows[0]) if rows else ["#", "tool", "args", "decision", "policy", "reason"]
        head = "".join(f'<th style="{_CELL_CSS};background:#f0f0f0">{_e(c)}</th>' for c in cols)
        body = []
        for row in rows:
            decision = row["decision"]
            cells = []
            for c in cols:
                value = row[c]
                if c == "decision":
                    inner = (
                        f'<span style="{_BADGE.get(value, "")};padding:1px 6px;border-radius:3px">{_e(value)}</span>'
                    )
                elif c in ("args", "result"):
                    inner = f'<pre style="margin:0;white-space:pre-wrap;max-width:60em">{_e(value)}</pre>'
                else:
                    inner = _e(value)
                cells.append(f'<td style="{_CELL_CSS}">{inner}</td>')
            style = _ROW_STYLE.get(decision, "")
            body.append(f'<tr class="sentinel-{_e(decision)}" style="{style}">{"".join(cells)}</tr>')
        title = f"<b>{_e(self.title)}</b> · " if self.title else ""
        caption = f'<div style="margin:2px 0 4px 0">{title}{_e(self.summary())}</div>'
        return (
            f'<div class="sentinel-verdicts">{caption}<table style="{_TABLE_CSS}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        lines = [f"{self.title + ': ' if self.title else ''}{self.summary()}"]
        for row in self._rows():
            mark = {"block": "BLOCK", "flag": "FLAG ", "allow": "allow"}.get(row["decision"], row["decision"])
            line = f"  {row['#']:>2} {mark} {row['tool']} {clip(row['args'], 80)}"
            if row["decision"] != "allow":
                line += f"  [{row['policy']}] {clip(row['reason'], 120)}"
            if row.get("result"):
                line += f"\n       -> {clip(row['result'], 200)}"
            lines.append(line)
        return "\n".join(lines)


class KeyValueView:
    """A titled list of ``name: value`` lines (status, messages), as HTML and text."""

    def __init__(self, title: str, items: Sequence[tuple[str, Any]], *, pre: str = "") -> None:
        self.title = title
        self.items = list(items)
        self.pre = pre

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<tr><th style="{_CELL_CSS};background:#f7f7f7">{_e(k)}</th><td style="{_CELL_CSS}">'
            f'<pre style="margin:0;white-space:pre-wrap">{_e(v)}</pre></td></tr>'
            for k, v in self.items
        )
        pre = f'<pre style="background:#f7f7f7;padding:6px">{_e(self.pre)}</pre>' if self.pre else ""
        return f'<div><b>{_e(self.title)}</b><table style="{_TABLE_CSS}">{rows}</table>{pre}</div>'

    def __repr__(self) -> str:
        width = max((len(k) for k, _ in self.items), default=0)
        lines = [self.title]
        for k, v in self.items:
            text = str(v).replace("\n", "\n  " + " " * (width + 2))
            lines.append(f"  {k.ljust(width)}  {text}")
        if self.pre:
            lines.append(self.pre)
        return "\n".join(lines)


class PolicyView(KeyValueView):
    """The active policy: where it comes from, and its text."""
