"""Rich display objects for notebooks: the verdict table of a ``%%sentinel`` cell, status and policy views.

Each object renders as HTML in a frontend and as plain text elsewhere (terminals, saved notebooks, nbval). The
HTML carries its own scoped stylesheet built on JupyterLab's CSS variables (with neutral fallbacks), so it reads in
the light and the dark theme, and it overrides the frontend's fixed table layout and right alignment so columns
take the width their content needs.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ALL_COLUMNS",
    "CSS",
    "DEFAULT_COLUMNS",
    "CallRow",
    "ComparisonTable",
    "KeyValueView",
    "PolicyView",
    "TableSettings",
    "VerdictTable",
    "clip",
    "verdict_html",
    "violation_card",
    "violation_html",
]

#: Every column the verdict table can show, and the default order: what was decided first, then the call.
ALL_COLUMNS: tuple[str, ...] = (
    "#",
    "decision",
    "tool",
    "policy",
    "reason",
    "args",
    "severity",
    "taints",
    "rule",
    "status",
    "verify_us",
    "roundtrip_us",
)
#: The default columns: all but the rule id, which `%config SentinelMagics.columns` can add.
DEFAULT_COLUMNS: tuple[str, ...] = tuple(c for c in ALL_COLUMNS if c != "rule")
_ALWAYS = ("#", "decision", "tool")

#: One stylesheet for every sentinel view; all selectors live under ``.sl-lab`` so nothing else is touched.
CSS = """
.sl-lab{color:var(--jp-ui-font-color1,inherit);font-size:var(--jp-code-font-size,12px);line-height:1.35}
.sl-lab .sl-caption{margin:2px 0 4px 0;color:var(--jp-ui-font-color1,inherit)}
.sl-lab .sl-caption .sl-note{color:var(--jp-ui-font-color2,inherit)}
.sl-lab table.sl-table{border-collapse:collapse!important;table-layout:auto!important;width:auto!important;
 margin:0!important;font-family:var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,monospace);
 font-size:var(--jp-code-font-size,12px);color:var(--jp-ui-font-color1,inherit)}
.sl-lab .sl-table th,.sl-lab .sl-table td{text-align:left!important;vertical-align:top!important;
 padding:3px 8px!important;border:1px solid var(--jp-border-color2,rgba(128,128,128,.4))!important;
 white-space:nowrap!important;max-width:none;word-break:normal;overflow-wrap:normal;line-height:1.35}
.sl-lab .sl-table th{background:var(--jp-layout-color2,rgba(128,128,128,.15))!important;
 color:var(--jp-ui-font-color0,inherit)!important;font-weight:600}
.sl-lab .sl-table tbody tr{background:transparent}
.sl-lab .sl-table td.sl-c-reason{white-space:normal!important;min-width:14em;max-width:var(--sl-reason-width,36em);
 overflow-wrap:break-word}
.sl-lab .sl-table td.sl-c-args{max-width:var(--sl-args-width,40em);overflow:hidden;text-overflow:ellipsis}
.sl-lab .sl-table td.sl-c-args code,.sl-lab .sl-table td.sl-c-args summary{white-space:nowrap!important}
.sl-lab .sl-table td.sl-c-reason code{white-space:normal!important;overflow-wrap:break-word}
.sl-lab.sl-verdicts,.sl-lab.sl-compare,.sl-lab.sl-log{overflow-x:auto;max-width:100%}
.sl-lab .sl-table td.sl-num{text-align:right!important;font-variant-numeric:tabular-nums}
.sl-lab tr.sl-block>td{background:rgba(229,57,53,.16)!important}
.sl-lab tr.sl-flag>td{background:rgba(249,168,37,.20)!important}
.sl-lab tr.sl-diff>td{outline:2px solid rgba(33,150,243,.7);outline-offset:-2px}
.sl-lab tr.sl-result>td{background:transparent!important;padding-top:0!important}
.sl-lab .sl-badge{display:inline-block;padding:0 6px;border-radius:3px;font-weight:600}
.sl-lab .sl-badge-block{background:#c62828;color:#fff}
.sl-lab .sl-badge-flag{background:#f9a825;color:#000}
.sl-lab .sl-badge-allow{background:#2e7d32;color:#fff}
.sl-lab .sl-badge-none{background:#757575;color:#fff}
.sl-lab code{background:transparent!important;color:inherit!important;padding:0!important;font-size:inherit}
.sl-lab pre{white-space:pre-wrap;overflow-wrap:anywhere;max-width:100em;margin:2px 0;padding:4px 6px;
 background:var(--jp-layout-color2,rgba(128,128,128,.12))!important;color:var(--jp-content-font-color1,inherit)!important;
 border:none}
.sl-lab details>summary{cursor:pointer;color:var(--jp-content-link-color,inherit)}
.sl-lab .sl-evidence{color:var(--jp-ui-font-color2,inherit)}
.sl-lab ul.sl-more{margin:2px 0 0 0;padding-left:1.2em}
.sl-lab .sl-kv th{width:1%}
.sl-lab .sl-kv td{white-space:normal}
"""


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters with a note of how much was cut."""
    if limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a single ellipsis (for cells; the full value is on hover)."""
    if limit <= 0 or len(text) <= limit:
        return text
    return text[: max(1, limit - 1)] + "…"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _style_block() -> str:
    return f"<style>{CSS}</style>"


def _micros(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    if number != number:
        return ""
    if number >= 100_000:
        return f"{number / 1e6:.2f} s"
    if number >= 1000:
        return f"{number / 1000:.1f} ms"
    return f"{number:.0f} µs"


@dataclass
class TableSettings:
    """How the verdict table is drawn; ``%config SentinelMagics`` sets these (see the magic's help)."""

    columns: tuple[str, ...] = DEFAULT_COLUMNS
    args_chars: int = 48
    reason_chars: int = 400
    max_result_chars: int = 2000
    displaylimit: int = 50


@dataclass
class CallRow:
    """One call of a cell, as the table shows it: the verdict plus what the proxy reported beside it."""

    index: int
    tool: str
    args: Mapping[str, Any]
    verdict: Any
    status: str = "done"  # done | cancelled | timed out | not started | error
    verify_us: float | None = None
    roundtrip_us: float | None = None
    result: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    expected: str | None = None

    @property
    def decision(self) -> str:
        if self.verdict is None:
            return ""
        return str(getattr(self.verdict, "decision", "") or ("allow" if self.verdict.allowed else "block"))

    @property
    def violations(self) -> list[Any]:
        return list(getattr(self.verdict, "violations", ()) or ())


def _args_text(args: Any) -> str:
    from sentinel_lab.lab.recorder import args_json

    return args_json(args)


def violation_html(v: Any) -> str:
    """One violation as a line: policy · severity · reason, and its evidence (if any) as code."""
    parts = [f"<b>{_e(v.policy)}</b>", _e(v.severity), _e(v.reason)]
    evidence = str(getattr(v, "evidence", "") or "")
    out = " · ".join(p for p in parts if p)
    if evidence:
        out += f' <code class="sl-evidence" title="{_e(evidence)}">{_e(_short(evidence, 120))}</code>'
    return out


def _reason_cell(row: CallRow, limit: int) -> str:
    violations = row.violations
    decision = row.decision
    if row.status not in ("done", ""):
        note = {
            "cancelled": "cancelled before the answer arrived",
            "timed out": "timed out and cancelled",
            "not started": "not started (an earlier call was interrupted)",
        }.get(row.status, row.status)
        if not violations or decision == "allow":
            return f"<i>{_e(note)}</i>"
    if not violations:
        if decision == "block":
            return _e(_short(str(getattr(row.verdict, "reason", "") or ""), limit))
        return ""
    ordered = sorted(violations, key=_rank, reverse=True)
    first = ordered[0]
    reason = str(first.reason)
    cell = f'<span title="{_e(reason)}">{_e(_short(reason, limit))}</span>'
    evidence = str(getattr(first, "evidence", "") or "")
    if evidence:
        cell += f' <code class="sl-evidence" title="{_e(evidence)}">{_e(_short(evidence, 80))}</code>'
    rest = ordered[1:]
    if rest:
        items = "".join(f"<li>{violation_html(v)}</li>" for v in rest)
        cell += (
            f'<details class="sl-more"><summary>+{len(rest)} more violation{"s" if len(rest) != 1 else ""}'
            f'</summary><ul class="sl-more">{items}</ul></details>'
        )
    return cell


def _rank(v: Any) -> int:
    return {"critical": 4, "high": 3, "medium": 2, "low": 1}.get(str(getattr(v, "severity", "")), 0)


def _badge(decision: str) -> str:
    kind = decision if decision in ("allow", "block", "flag") else "none"
    return f'<span class="sl-badge sl-badge-{kind}">{_e(decision or "?")}</span>'


class VerdictTable:
    """The result of a ``%%sentinel`` cell: one row per call, decision first, tool results expandable under it.

    ``frame`` is the cell's DataFrame (recorder schema plus the lab's columns); ``rows`` the calls with their
    verdicts, in cell order. ``verdicts`` lists the verdicts alone. Columns that are empty in every row are left
    out; ``settings`` chooses columns, widths and how many rows are drawn.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        rows: Sequence[CallRow],
        *,
        title: str = "",
        note: str = "",
        settings: TableSettings | None = None,
        differs: Sequence[bool] | None = None,
    ) -> None:
        self.frame = frame
        self.rows = list(rows)
        self.verdicts = [r.verdict for r in self.rows]
        self.title = title
        self.note = note
        self.settings = settings or TableSettings()
        self.differs = list(differs) if differs is not None else None

    def to_frame(self) -> pd.DataFrame:
        """The cell's DataFrame (what ``-o VAR`` stores)."""
        return self.frame

    @property
    def blocked(self) -> int:
        """How many calls were blocked."""
        return sum(1 for r in self.rows if r.decision == "block")

    def summary(self) -> str:
        """One line: how many calls, how many blocked, flagged or not completed."""
        n = len(self.rows)
        flagged = sum(1 for r in self.rows if r.decision == "flag")
        parts = [f"{n} call{'s' if n != 1 else ''}", f"{self.blocked} blocked"]
        if flagged:
            parts.append(f"{flagged} flagged")
        unfinished = [r.status for r in self.rows if r.status not in ("done", "")]
        for status in ("cancelled", "timed out", "not started"):
            count = unfinished.count(status)
            if count:
                parts.append(f"{count} {status}")
        return ", ".join(parts)

    # -- cells -------------------------------------------------------------------------------------------------
    def _value(self, row: CallRow, column: str) -> str:
        """The plain value of one cell (used to decide which columns are empty, and for the text view)."""
        v = row.verdict
        if column == "#":
            return str(row.index)
        if column == "decision":
            return row.decision
        if column == "tool":
            return row.tool
        if column == "args":
            return _args_text(row.args)
        if column == "policy":
            return str(getattr(v, "policy", "") or "") if row.decision != "allow" else ""
        if column == "severity":
            return str(getattr(v, "severity", "") or "") if row.decision != "allow" else ""
        if column == "reason":
            if row.decision == "allow" and row.status in ("done", ""):
                return ""
            return str(getattr(v, "reason", "") or "") if row.violations or row.decision == "block" else row.status
        if column == "taints":
            return ",".join(sorted(str(t) for t in (getattr(v, "taints", ()) or ())))
        if column == "rule":
            return str(getattr(v, "rule", "") or "")
        if column == "status":
            return "" if row.status == "done" else row.status
        if column == "verify_us":
            return _micros(row.verify_us)
        if column == "roundtrip_us":
            return _micros(row.roundtrip_us)
        return ""

    def columns(self) -> list[str]:
        """The columns drawn: the configured ones, less those empty in every row (``#``, decision, tool stay)."""
        wanted = [c for c in self.settings.columns if c in ALL_COLUMNS] or list(DEFAULT_COLUMNS)
        shown = self._shown_rows()
        return [c for c in wanted if c in _ALWAYS or any(self._value(r, c) for r in shown)]

    def _shown_rows(self) -> list[CallRow]:
        limit = self.settings.displaylimit
        return self.rows if limit <= 0 else self.rows[:limit]

    def _cell_html(self, row: CallRow, column: str) -> str:
        if column == "decision":
            return _badge(row.decision)
        if column == "reason":
            return _reason_cell(row, self.settings.reason_chars)
        if column == "args":
            full = _args_text(row.args)
            short = _short(full, self.settings.args_chars)
            if short == full:
                return f"<code>{_e(full)}</code>"
            pretty = json.dumps(dict(row.args), indent=2, ensure_ascii=False, default=str, sort_keys=True)
            return (
                f'<details><summary><code title="{_e(full)}">{_e(short)}</code></summary>'
                f"<pre>{_e(pretty)}</pre></details>"
            )
        return _e(self._value(row, column))

    def _repr_html_(self) -> str:
        cols = self.columns()
        shown = self._shown_rows()
        head = "".join(f'<th class="sl-c-{_e(c.strip("#") or "n")}">{_e(c)}</th>' for c in cols)
        body: list[str] = []
        for pos, row in enumerate(shown):
            decision = row.decision or "none"
            classes = f"sl-row sl-{_e(decision)}"
            if self.differs is not None and pos < len(self.differs) and self.differs[pos]:
                classes += " sl-diff"
            cells = []
            for c in cols:
                klass = f"sl-c-{c.strip('#') or 'n'}" + (" sl-num" if c in ("#", "verify_us", "roundtrip_us") else "")
                cells.append(f'<td class="{klass}">{self._cell_html(row, c)}</td>')
            body.append(
                f'<tr class="{classes}" data-decision="{_e(decision)}" data-status="{_e(row.status)}">'
                f"{''.join(cells)}</tr>"
            )
            if row.result is not None:
                text = clip(row.result, self.settings.max_result_chars)
                summary = f"result of {row.tool} · {len(row.result)} characters"
                body.append(
                    f'<tr class="sl-result"><td></td><td colspan="{len(cols) - 1}"><details>'
                    f"<summary>{_e(summary)}</summary><pre>{_e(text)}</pre></details></td></tr>"
                )
        hidden = len(self.rows) - len(shown)
        more = (
            f' <span class="sl-note">· first {len(shown)} of {len(self.rows)} rows shown '
            f"(%config SentinelMagics.displaylimit = 0 shows all)</span>"
            if hidden
            else ""
        )
        title = f"<b>{_e(self.title)}</b> · " if self.title else ""
        note = f' <span class="sl-note">· {_e(self.note)}</span>' if self.note else ""
        widths = f"--sl-args-width:{max(10, self.settings.args_chars)}ch"
        return (
            f'<div class="sl-lab sl-verdicts" style="{widths}">{_style_block()}'
            f'<div class="sl-caption">{title}{_e(self.summary())}{note}{more}</div>'
            f'<table class="sl-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
        )

    def __repr__(self) -> str:
        head = f"{self.title + ': ' if self.title else ''}{self.summary()}"
        lines = [head + (f" ({self.note})" if self.note else "")]
        for pos, row in enumerate(self._shown_rows()):
            mark = {"block": "BLOCK", "flag": "FLAG ", "allow": "allow"}.get(row.decision, row.decision or "?")
            diff = " *" if self.differs is not None and pos < len(self.differs) and self.differs[pos] else ""
            line = f"  {row.index:>2} {mark} {row.tool} {_short(_args_text(row.args), 80)}{diff}"
            if row.decision != "allow" or row.status != "done":
                policy = self._value(row, "policy")
                line += f"  [{policy}] " if policy else "  "
                line += clip(self._value(row, "reason"), 120)
            for v in sorted(row.violations, key=_rank, reverse=True)[1:]:
                line += f"\n       + {v.policy}: {clip(str(v.reason), 100)}"
            if row.result:
                line += f"\n       -> {clip(row.result, 200)}"
            lines.append(line)
        if len(self.rows) > len(self._shown_rows()):
            lines.append(f"  … {len(self.rows) - len(self._shown_rows())} more rows")
        return "\n".join(lines)


def verdict_html(v: Any) -> str:
    """A ``Verdict`` as a small card: decision, tool, rule, every violation with evidence, taints and time."""
    decision = str(getattr(v, "decision", "") or ("allow" if v.allowed else "block"))
    items: list[tuple[str, str]] = [("decision", _badge(decision))]
    for name in ("tool", "rule", "session_id"):
        value = str(getattr(v, name, "") or "")
        if value:
            items.append((name, f"<code>{_e(value)}</code>"))
    args = getattr(v, "args", None)
    if args:
        items.append(("args", f"<code>{_e(_short(_args_text(args), 200))}</code>"))
    violations = sorted(getattr(v, "violations", ()) or (), key=_rank, reverse=True)
    if violations:
        lis = "".join(f"<li>{violation_html(x)}</li>" for x in violations)
        items.append((f"violations ({len(violations)})", f'<ul class="sl-more">{lis}</ul>'))
    taints = sorted(getattr(v, "taints", ()) or ())
    if taints:
        items.append(("taints", _e(", ".join(taints))))
    intent = getattr(v, "intent", None)
    if intent is not None:
        items.append(("intent", _e(f"{intent.score:.2f} ({intent.method}) {'aligned' if intent.aligned else 'not'}")))
    elapsed = getattr(v, "elapsed_us", 0.0)
    if elapsed:
        items.append(("verify time", _e(_micros(elapsed))))
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{val}</td></tr>" for k, val in items)
    return f'<div class="sl-lab sl-verdict">{_style_block()}<table class="sl-table sl-kv">{rows}</table></div>'


class KeyValueView:
    """A titled list of ``name: value`` lines (status, messages), as HTML and text."""

    def __init__(self, title: str, items: Sequence[tuple[str, Any]], *, pre: str = "") -> None:
        self.title = title
        self.items = list(items)
        self.pre = pre

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th>{_e(k)}</th><td><pre>{_e(v)}</pre></td></tr>"
            if "\n" in str(v)
            else f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
            for k, v in self.items
        )
        pre = f"<pre>{_e(self.pre)}</pre>" if self.pre else ""
        return (
            f'<div class="sl-lab sl-kvview">{_style_block()}<div class="sl-caption"><b>{_e(self.title)}</b></div>'
            f'<table class="sl-table sl-kv">{rows}</table>{pre}</div>'
        )

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


def violation_card(v: Any) -> str:
    """A ``Violation`` on its own, as one line with the stylesheet."""
    return f'<div class="sl-lab sl-violation">{_style_block()}{violation_html(v)}</div>'


class ComparisonTable:
    """The same calls under two policies (``--compare``): decisions side by side, differing rows marked."""

    def __init__(
        self,
        rows_a: Sequence[CallRow],
        rows_b: Sequence[CallRow],
        *,
        labels: tuple[str, str],
        titles: tuple[str, str] = ("", ""),
        settings: TableSettings | None = None,
    ) -> None:
        self.rows_a = list(rows_a)
        self.rows_b = list(rows_b)
        self.labels = labels
        self.titles = titles
        self.settings = settings or TableSettings()

    @property
    def differs(self) -> list[bool]:
        """Per call: do the two policies decide differently?"""
        return [a.decision != b.decision for a, b in zip(self.rows_a, self.rows_b, strict=False)]

    def summary(self) -> str:
        n = len(self.rows_a)
        d = sum(self.differs)
        return f"{n} call{'s' if n != 1 else ''}, {d} decided differently"

    def to_frame(self) -> pd.DataFrame:
        """One row per call: tool, args, then decision, policy and reason under each policy, and ``differs``."""
        import pandas as pd

        def side(row: CallRow) -> tuple[str, str, str]:
            v = row.verdict
            if row.decision == "allow" or v is None:
                return row.decision or row.status, "", "" if v is not None else row.status
            return row.decision, str(getattr(v, "policy", "") or ""), str(getattr(v, "reason", "") or "")

        records = []
        for a, b, diff in zip(self.rows_a, self.rows_b, self.differs, strict=False):
            da, pa, ra = side(a)
            db, pb, rb = side(b)
            records.append(
                {
                    "tool": a.tool,
                    "args": _args_text(a.args),
                    "decision_a": da,
                    "policy_a": pa,
                    "reason_a": ra,
                    "decision_b": db,
                    "policy_b": pb,
                    "reason_b": rb,
                    "differs": diff,
                }
            )
        frame: pd.DataFrame = pd.DataFrame(
            records,
            columns=[
                "tool",
                "args",
                "decision_a",
                "policy_a",
                "reason_a",
                "decision_b",
                "policy_b",
                "reason_b",
                "differs",
            ],
        )
        frame.attrs["policies"] = {"a": self.labels[0], "b": self.labels[1]}
        return frame

    def _repr_html_(self) -> str:
        limit = self.settings.args_chars
        head_top = (
            '<tr><th colspan="3"></th>'
            f'<th colspan="3">A · {_e(self.labels[0])}</th><th colspan="3">B · {_e(self.labels[1])}</th></tr>'
        )
        names = ("#", "tool", "args", *(("decision", "policy", "reason") * 2))
        head = "<tr>" + "".join(f"<th>{c}</th>" for c in names) + "</tr>"
        body = []
        for a, b, diff in zip(self.rows_a, self.rows_b, self.differs, strict=False):
            full = _args_text(a.args)
            cells = [
                f'<td class="sl-num">{a.index}</td>',
                f"<td>{_e(a.tool)}</td>",
                f'<td class="sl-c-args"><code title="{_e(full)}">{_e(_short(full, limit))}</code></td>',
            ]
            for row in (a, b):
                policy = str(getattr(row.verdict, "policy", "") or "") if row.decision != "allow" else ""
                cells += [
                    f"<td>{_badge(row.decision)}</td>",
                    f"<td>{_e(policy)}</td>",
                    f'<td class="sl-c-reason">{_reason_cell(row, self.settings.reason_chars)}</td>',
                ]
            klass = "sl-row sl-diff" if diff else "sl-row"
            body.append(f'<tr class="{klass}" data-differs="{str(diff).lower()}">{"".join(cells)}</tr>')
        caption = f"<b>{_e(self.labels[0])}</b> against <b>{_e(self.labels[1])}</b> · {_e(self.summary())}"
        return (
            f'<div class="sl-lab sl-compare">{_style_block()}<div class="sl-caption">{caption}</div>'
            f'<table class="sl-table"><thead>{head_top}{head}</thead><tbody>{"".join(body)}</tbody></table></div>'
        )

    def __repr__(self) -> str:
        lines = [f"{self.labels[0]} against {self.labels[1]}: {self.summary()}"]
        for a, b, diff in zip(self.rows_a, self.rows_b, self.differs, strict=False):
            mark = "*" if diff else " "
            lines.append(f" {mark}{a.index:>2} {a.tool:<20} A {a.decision or a.status:<6} B {b.decision or b.status}")
        return "\n".join(lines)
