"""Verdict frames for people: ``style(frame)`` (a pandas ``Styler``), the ``%sentinel log`` view and its plot.

``style`` works on any frame in the recorder schema (``%sentinel log``, ``-o VAR``, ``evaluate(...)``): decisions
as coloured cells, blocked and flagged rows tinted, long text cut, the index hidden. Being a ``Styler`` it renders
as HTML in a notebook and exports with ``to_latex``, ``to_excel`` and ``to_html``. Colours of the decision cells
are fixed pairs (readable on any background, and kept by the LaTeX export); row tints are translucent, so they
read on the light and the dark theme alike.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

__all__ = ["LOG_ORDER", "LogView", "log_plot", "style", "to_frame", "write_rows"]

#: The log's columns in reading order: when, which session (by name), what was decided and why, then the call.
LOG_ORDER: tuple[str, ...] = (
    "time",
    "name",
    "decision",
    "tool",
    "policy",
    "severity",
    "reason",
    "args",
    "status",
    "finding",
    "evidence",
    "violations",
    "verify_us",
    "roundtrip_us",
    "latency_us",
    "taints",
    "rule",
    "source",
    "session",
)
_DECISION_CSS = {
    "block": "background-color:#c62828;color:#ffffff;font-weight:bold",
    "flag": "background-color:#f9a825;color:#000000;font-weight:bold",
    "allow": "background-color:#2e7d32;color:#ffffff",
}
_ROW_TINT = {"block": "background-color:rgba(229,57,53,.14)", "flag": "background-color:rgba(249,168,37,.18)"}
_TABLE_STYLES: list[dict[str, str]] = [
    {"selector": "", "props": "border-collapse:collapse;table-layout:auto;width:auto;margin:0"},
    {
        "selector": "th, td",
        "props": "text-align:left;vertical-align:top;padding:3px 8px;white-space:nowrap;"
        "border:1px solid var(--jp-border-color2,rgba(128,128,128,.4));"
        "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px)",
    },
    {
        "selector": "th",
        "props": "background-color:var(--jp-layout-color2,rgba(128,128,128,.15));"
        "color:var(--jp-ui-font-color0,inherit);font-weight:600",
    },
    {"selector": "caption", "props": "caption-side:top;text-align:left;padding:2px 0"},
]


def _clip(value: Any, limit: int) -> Any:
    if isinstance(value, str) and limit > 0 and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def _short_session(value: Any) -> Any:
    """A signed proxy session id (``1.<22>.<43>``) cut to its first part; other names stay."""
    if isinstance(value, str) and value.startswith("1.") and len(value) > 30:
        return value[:10] + "…"
    return value


def style(frame: pd.DataFrame, *, max_chars: int = 80, caption: str | None = None) -> Styler:
    """A ``Styler`` for a verdict frame: decision cells coloured, blocked and flagged rows tinted, text cut to
    ``max_chars`` (the frame itself is unchanged), index hidden, left-aligned, theme colours in HTML."""
    styler = frame.style
    styler.set_uuid("sentinel")  # stable HTML ids: saved notebooks do not change on every run
    styler.hide(axis="index")
    styler.set_table_attributes('class="sl-styled"')
    styler.set_table_styles(_TABLE_STYLES)  # type: ignore[arg-type]
    if caption:
        styler.set_caption(caption)
    if "decision" in frame.columns:
        import pandas as pd

        tints = [_ROW_TINT.get(str(x), "") for x in frame["decision"]]

        def tint(data: pd.DataFrame) -> pd.DataFrame:
            out: pd.DataFrame = pd.DataFrame(
                [[t] * data.shape[1] for t in tints], index=data.index, columns=data.columns
            )
            return out

        styler.apply(tint, axis=None)
        styler.map(lambda x: _DECISION_CSS.get(str(x), ""), subset=["decision"])
    text_columns: list[Any] = [c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype) == "string"]
    if text_columns:
        styler.format(lambda x: _clip(x, max_chars), subset=text_columns, na_rep="")
    if "session" in frame.columns:
        styler.format(_short_session, subset=["session"], na_rep="")
    for col in ("verify_us", "roundtrip_us", "latency_us"):
        if col in frame.columns:
            styler.format("{:,.0f}", subset=[col], na_rep="")
    if "time" in frame.columns and str(frame["time"].dtype).startswith("datetime64"):
        styler.format(lambda t: t.strftime("%H:%M:%S.%f")[:-3] if t == t else "", subset=["time"])
    return styler


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the log's reading order and without columns that are empty in every row."""
    front = [c for c in LOG_ORDER if c in frame.columns]
    rest = [c for c in frame.columns if c not in front]
    keep = []
    for c in [*front, *rest]:
        col = frame[c]
        if c in ("time", "decision", "tool"):
            keep.append(c)
            continue
        values = col.dropna()
        if len(values) and not all(str(v) in ("", "0", "done", "nan") for v in values):
            keep.append(c)
    ordered: pd.DataFrame = frame[keep]
    return ordered


class LogView:
    """``%sentinel log``: the recorded verdicts, newest last, styled; ``to_frame()`` gives every row.

    Plain attribute access and indexing reach the frame (``log["decision"]``, ``log.dtypes``, ``len(log)``), so
    code written against the frame keeps working.
    """

    def __init__(self, frame: pd.DataFrame, *, title: str = "sentinel log", limit: int = 200) -> None:
        self.frame = frame
        self.title = title
        self.limit = limit

    def to_frame(self) -> pd.DataFrame:
        """Every row, all columns."""
        return self.frame

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "frame":
            raise AttributeError(name)
        return getattr(self.frame, name)

    def __getitem__(self, key: Any) -> Any:
        return self.frame[key]

    def __len__(self) -> int:
        return len(self.frame)

    def summary(self) -> str:
        n = len(self.frame)
        counts: dict[str, int] = (
            {str(k): int(v) for k, v in self.frame["decision"].astype(str).value_counts().items()} if n else {}
        )
        parts = [f"{n} verdict{'s' if n != 1 else ''}"]
        for decision in ("block", "flag"):
            count = counts.get(decision, 0)
            if count:
                parts.append(f"{count} {'blocked' if decision == 'block' else 'flagged'}")
        return ", ".join(parts)

    def _shown(self) -> pd.DataFrame:
        frame = self.frame if self.limit <= 0 else self.frame.tail(self.limit)
        frame = frame.reset_index(drop=True)
        if "reason" in frame.columns and "decision" in frame.columns:
            frame = frame.copy()  # an allowed call has no reason to read ("allowed" repeats the decision)
            frame["reason"] = frame["reason"].where(frame["decision"].astype(str) != "allow", "")
        return _ordered(frame)

    def _repr_html_(self) -> str:
        from sentinel_lab.lab._display import CSS

        shown = self._shown()
        note = ""
        if len(shown) < len(self.frame):
            note = f" · last {len(shown)} shown (to_frame() has all)"
        caption = f"<b>{html.escape(self.title)}</b> · {html.escape(self.summary())}{html.escape(note)}"
        body = style(shown).to_html() if len(shown) else "<i>nothing recorded yet</i>"
        return f'<div class="sl-lab sl-log"><style>{CSS}</style><div class="sl-caption">{caption}</div>{body}</div>'

    def __repr__(self) -> str:
        shown = self._shown()
        cols = [c for c in ("name", "decision", "tool", "policy", "reason") if c in shown.columns]
        text = shown[cols].to_string(index=False, max_colwidth=60) if len(shown) else "(nothing recorded yet)"
        return f"{self.title}: {self.summary()}\n{text}"


def write_rows(frame: pd.DataFrame, path: str) -> Path:
    """Write ``frame`` to ``path``: ``.csv`` (header, no index) or ``.jsonl`` (one JSON object a line)."""
    target = Path(path).expanduser()
    if target.suffix == ".csv":
        frame.to_csv(target, index=False)
    elif target.suffix == ".jsonl":
        frame.to_json(target, orient="records", lines=True, date_format="iso", force_ascii=False)
    else:
        raise ValueError("the file name must end in .csv or .jsonl")
    return target


def log_plot(frame: pd.DataFrame) -> Any:
    """Three panels: decisions per deciding policy, decisions per severity, and the latency distribution."""
    from matplotlib.figure import Figure

    from sentinel_lab.lab.explorer import _register_png
    from sentinel_lab.lab.plots import STYLE

    fig = Figure(figsize=(11, 3.4), dpi=STYLE["figure.dpi"])
    axes = fig.subplots(1, 3)
    colors = {"allow": "#2e7d32", "block": "#c62828", "flag": "#f9a825"}
    decisions = [str(x) for x in frame["decision"]] if len(frame) else []
    for ax, column, title in ((axes[0], "policy", "by deciding policy"), (axes[1], "severity", "by severity")):
        values = [str(x) if str(x) not in ("", "nan") else "(allowed)" for x in frame[column]] if len(frame) else []
        groups = sorted(set(values))
        bottom = [0] * len(groups)
        for decision in ("allow", "flag", "block"):
            pairs = list(zip(values, decisions, strict=True))
            heights = [sum(1 for v, d in pairs if v == g and d == decision) for g in groups]
            if any(heights):
                ax.barh(groups, heights, left=bottom, color=colors[decision], label=decision)
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_title(f"decisions {title}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("calls", fontsize=8)
        if groups:
            ax.legend(fontsize=7, frameon=False)
    ax = axes[2]
    plotted = False
    for column, label in (("verify_us", "verify (engine)"), ("roundtrip_us", "round trip (proxy)")):
        if column in frame.columns:
            samples = sorted(float(x) for x in frame[column].dropna() if float(x) > 0)
            if samples:
                n = len(samples)
                ax.step(samples, [(i + 1) / n for i in range(n)], where="post", label=label)
                plotted = True
    if plotted:
        ax.set_xscale("log")
        ax.legend(fontsize=7, frameon=False)
    else:
        ax.text(0.5, 0.5, "no latencies recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("latency distribution", fontsize=9)
    ax.set_xlabel("µs (log scale)", fontsize=8)
    ax.set_ylabel("fraction of calls", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    _register_png(type(fig))
    return fig


def to_frame(obj: Any) -> pd.DataFrame:
    """A one-row-per-item frame of a ``Verdict`` (recorder schema), a ``Violation`` or a sequence of either;
    lab objects with their own ``to_frame()`` give theirs."""
    import pandas as pd

    from sentinel_lab._core.verdict import Verdict, Violation
    from sentinel_lab.lab.recorder import verdicts_frame

    own = getattr(obj, "to_frame", None)
    if callable(own):
        result: pd.DataFrame = own()
        return result
    items: Sequence[Any] = obj if isinstance(obj, (list, tuple)) else [obj]
    if all(isinstance(x, Verdict) for x in items):
        return verdicts_frame(items, source="api")
    if all(isinstance(x, Violation) for x in items):
        rows: pd.DataFrame = pd.DataFrame(
            [x.to_dict() for x in items], columns=["policy", "reason", "severity", "evidence"]
        )
        return rows
    raise TypeError(f"to_frame() takes verdicts, violations or a lab table, not {type(obj).__name__}")
