"""The paper's figures, in one consistent style: detection per category, latency CDFs, cost against size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt

__all__ = ["STYLE", "cost_vs_size", "detection_bars", "latency_cdf"]

STYLE: dict[Any, Any] = {  # matplotlib types rc keys as a Literal of every rc name
    "figure.figsize": (6.4, 3.4),
    "figure.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.frameon": False,
}
BLUE, RED, GREY = "#2b6cb0", "#c53030", "#718096"


def _ax(ax: Any) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
    return fig, ax


def detection_bars(
    report: Any,
    *,
    rate: str = "detection_rate",
    low: str = "detection_ci_low",
    high: str = "detection_ci_high",
    fp_rate: str | None = "false_positive_rate",
    by: str = "category",
    title: str = "Attacks blocked per category (95% Wilson interval)",
    ax: Any = None,
) -> Any:
    """Horizontal bars of the detection rate per category with interval whiskers; false-positive rate dots."""
    with plt.rc_context(STYLE):
        fig, ax = _ax(ax)
        frame = report.set_index(by) if by in report.columns else report
        frame = frame[frame.index.astype(str) != "total"]
        frame = frame[frame[rate].notna()]
        cats = [str(c) for c in frame.index]
        ys = range(len(cats))
        vals = frame[rate].to_numpy(dtype=float)
        err = None
        if low in frame and high in frame:
            err = [vals - frame[low].to_numpy(dtype=float), frame[high].to_numpy(dtype=float) - vals]
        ax.barh(list(ys), vals, xerr=err, color=BLUE, alpha=0.85, capsize=2, label="attacks blocked")
        if fp_rate and fp_rate in frame:
            fps = frame[fp_rate].to_numpy(dtype=float)
            ax.scatter(fps, list(ys), color=RED, zorder=3, s=14, label="benign blocked")
        ax.set_yticks(list(ys), cats)
        ax.set_xlim(0, 1.02)
        ax.set_xlabel("rate")
        ax.set_title(title)
        ax.invert_yaxis()
        ax.legend(loc="lower right")
        fig.tight_layout()
    return fig


def latency_cdf(samples: Mapping[str, Sequence[float]], *, unit: str = "µs", title: str = "", ax: Any = None) -> Any:
    """Empirical CDF per series (log x axis): the whole distribution, not only its percentiles."""
    with plt.rc_context(STYLE):
        fig, ax = _ax(ax)
        for name, values in samples.items():
            ordered = sorted(values)
            n = len(ordered)
            if n:
                ax.step(ordered, [(i + 1) / n for i in range(n)], where="post", label=name)
        ax.set_xscale("log")
        ax.set_xlabel(f"latency ({unit}, log scale)")
        ax.set_ylabel("fraction of calls")
        ax.set_ylim(0, 1.01)
        if title:
            ax.set_title(title)
        ax.legend(loc="lower right")
        fig.tight_layout()
    return fig


def cost_vs_size(
    rows: Sequence[Mapping[str, Any]], *, title: str = "verify() time against argument size", ax: Any = None
) -> Any:
    """Log-log median time against bytes, one line per input kind, with a linear reference slope."""
    with plt.rc_context(STYLE):
        fig, ax = _ax(ax)
        kinds: dict[str, list[tuple[int, float]]] = {}
        for row in rows:
            kinds.setdefault(str(row["kind"]), []).append((int(row["bytes"]), float(row["median_us"]) / 1000.0))
        for kind, pts in kinds.items():
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=kind)
        if kinds:
            first = min(kinds.values(), key=lambda p: p[0][0])
            x0, y0 = first[0]
            xs = [x0, max(p[0] for pts in kinds.values() for p in pts)]
            ax.plot(xs, [y0, y0 * xs[1] / x0], ls="--", color=GREY, label="linear")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("argument size (bytes)")
        ax.set_ylabel("median time (ms)")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
    return fig
