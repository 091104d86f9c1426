"""``explore(dataset_or_frame, verifier_or_policy)``: an interactive look at how a verifier or policy judges a dataset.

Every item is verified once; which policies flagged it is kept, so switching a check off re-scores every item
instantly (an item stays blocked while any still-enabled policy flags it). The ipywidgets panel has filters
(category, label, technique, verdict), a free-text search, the matching rows, a detail view of one item (its
normalised strings, parsed URLs / paths / commands and every check's result), check toggles with detection and
false-positive rates, and a per-category bar chart. Without a live frontend it shows a static summary table.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PROGRESS_MIN", "VERDICT_FILTERS", "Comparison", "Detail", "Explorer", "explore", "items_frame"]

#: Choices of the verdict filter.
VERDICT_FILTERS: tuple[str, ...] = ("all", "blocked", "allowed", "missed attacks", "false positives")
_MAX_ROWS = 200
_ITEM_COLUMNS = ("id", "label", "category", "technique", "dataset", "trace_id", "step")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(num: int, den: int) -> str:
    return f"{num}/{den} ({100.0 * num / den:.1f}%)" if den else "0/0 (-)"


# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------
def _as_args(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"value": value}
        return dict(parsed) if isinstance(parsed, Mapping) else {"value": parsed}
    return {}


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def items_frame(data: Any) -> pd.DataFrame:
    """Normalise a dataset name, JSONL path, list of dicts or DataFrame into the items the explorer shows.

    Columns: id, tool, args (dict), label (attack|benign; from ``expected`` block|allow if needed), category,
    technique, dataset, trace_id, step. Rows that are not tool calls (``kind == "output"``) are left out.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    elif isinstance(data, (str, os.PathLike)):
        text = os.fspath(data)
        if os.path.exists(text):
            frame = pd.DataFrame(_read_jsonl(text))
        else:
            from sentinel_lab import datasets

            frame = datasets.load(text)
    elif isinstance(data, Iterable):
        frame = pd.DataFrame([dict(r) for r in data])
    else:
        raise TypeError(f"explore() needs a DataFrame, a dataset name, a JSONL path or a list of items, not {data!r}")
    if "kind" in frame.columns:
        kinds = [k is None or k != k or str(k) in ("", "call") for k in frame["kind"]]
        frame = frame[kinds]
    if "tool" not in frame.columns:
        raise ValueError("the items need a 'tool' column")
    n = len(frame)
    out: pd.DataFrame = pd.DataFrame(index=range(n))
    out["id"] = [str(x) for x in frame["id"]] if "id" in frame.columns else [str(i) for i in range(n)]
    out["tool"] = [str(x) for x in frame["tool"]]
    out["args"] = pd.Series([_as_args(x) for x in frame.get("args", pd.Series([{}] * n))], dtype=object).values
    if "label" in frame.columns:
        labels = [str(x) for x in frame["label"]]
    elif "expected" in frame.columns:
        labels = ["attack" if str(x) == "block" else "benign" for x in frame["expected"]]
    else:
        labels = [""] * n
    out["label"] = labels
    for col in ("category", "technique", "dataset"):
        out[col] = [("" if x is None or x != x else str(x)) for x in frame[col]] if col in frame.columns else ""
    out["trace_id"] = list(frame["trace_id"]) if "trace_id" in frame.columns else None
    out["step"] = list(frame["step"]) if "step" in frame.columns else None
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts keyed by column name (the explorer's columns are all strings)."""
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def _resolve_judge(judge: Any) -> tuple[str, Any]:
    """``("verifier", Verifier)`` or ``("policy", Policy)`` for a verifier, policy, policy path or None."""
    if judge is None:
        from sentinel_lab._verify.verifier import Verifier

        return "verifier", Verifier(rate_limit=False)
    if isinstance(judge, (str, os.PathLike)):
        from sentinel_lab._policy.model import Policy

        return "policy", Policy.load(os.fspath(judge))
    if hasattr(judge, "new_session"):
        return "policy", judge
    if hasattr(judge, "verify"):
        return "verifier", judge
    raise TypeError(f"explore() needs a Verifier, a Policy or a policy path, not {type(judge).__name__}")


def _flagged(verdict: Any) -> frozenset[str]:
    names = {str(v.policy) for v in getattr(verdict, "violations", ()) or ()}
    if not names and not verdict.allowed:
        rule = str(getattr(verdict, "rule", "") or "")
        names.add(rule.split(".", 1)[0] if rule else "default_action")
    return frozenset(names)


def _describe(obj: Any) -> str:
    """A compact ``field=value`` description of a parsed view (URL, path, command), skipping empty fields."""
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # the analysis views are NamedTuple records
        items: list[tuple[str, Any]] = list(zip(obj._fields, obj, strict=True))
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    else:
        return repr(obj)
    parts = []
    for name, value in items:
        if name in ("text",) or name.startswith("_"):
            continue
        if (
            value is None
            or value is False
            or (isinstance(value, (str, tuple, list, set, frozenset, dict)) and not value)
        ):
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            inner = _describe(value)
            if inner:
                parts.append(f"{name}({inner})")
            continue
        parts.append(f"{name}={value!s}")
    return ", ".join(parts)


def _record_fields(obj: Any) -> list[str] | None:
    """Field names of a record-like parsed view (a dataclass or a named tuple), else None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [f.name for f in dataclasses.fields(obj)]
    names = getattr(type(obj), "_fields", None)
    if isinstance(obj, tuple) and isinstance(names, tuple):
        return [str(n) for n in names]
    return None


def _fields(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """The non-empty fields of a parsed view (nested views flattened as ``outer.inner``), for a small table.
    The ``text`` a view was found in is left out (the strings section shows it)."""
    names = _record_fields(obj)
    if names is None:
        return [(prefix or "value", str(obj))]
    out: list[tuple[str, str]] = []
    for field_name in names:
        if field_name.startswith("_") or field_name == "text":
            continue
        value = getattr(obj, field_name)
        empty = isinstance(value, (str, tuple, list, set, frozenset, dict)) and not value
        if value is None or value is False or empty:
            continue
        name = f"{prefix}.{field_name}" if prefix else field_name
        if _record_fields(value) is not None:
            out.extend(_fields(value, name))
        elif isinstance(value, (tuple, list)) and all(_record_fields(x) is not None for x in value):
            out.extend((f"{name}[{i}]", _describe(x)) for i, x in enumerate(value))
        else:
            out.append((name, str(value)))
    return out


def _kv_table(pairs: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)
    return f'<table class="sl-table sl-kv">{rows}</table>'


# ---------------------------------------------------------------------------------------------------------------
# Detail of one item
# ---------------------------------------------------------------------------------------------------------------
class Detail:
    """Everything about one item: its strings as normalised, parsed views, and every check's result."""

    def __init__(
        self,
        item: Mapping[str, Any],
        verdict: Any,
        checks: list[tuple[str, str]],
        *,
        blocked: bool | None = None,
        disabled: Iterable[str] = (),
    ) -> None:
        from sentinel_lab._analysis import analyse

        self.item = dict(item)
        self.verdict = verdict
        self.checks = checks
        #: Whether the item is blocked with the explorer's current settings (checks switched off taken into account).
        self.blocked = (not verdict.allowed) if blocked is None else blocked
        self.disabled = frozenset(disabled)
        self.analysis = analyse(str(item["tool"]), dict(item["args"]))
        self.texts: list[dict[str, Any]] = [
            {
                "path": t.path,
                "raw": t.raw,
                "norm": t.norm,
                "folded": t.folded,
                "decoded": [d for d in t.decoded if d != t.norm],
            }
            for t in self.analysis.texts
        ]
        self.endpoints = self._safe("endpoints")
        self.paths = self._safe("paths")
        self.commands = self._safe("commands")
        self.views: dict[str, list[list[tuple[str, str]]]] = {
            name: self._safe_fields(name) for name in ("endpoints", "paths", "commands")
        }

    def _safe(self, name: str) -> list[str]:
        try:
            return [_describe(x) for x in getattr(self.analysis, name)]
        except Exception as exc:  # a parser still being built must not break the panel
            return [f"({name} unavailable: {type(exc).__name__}: {exc})"]

    def _safe_fields(self, name: str) -> list[list[tuple[str, str]]]:
        try:
            return [_fields(x) for x in getattr(self.analysis, name)]
        except Exception as exc:
            return [[("error", f"{name} unavailable: {type(exc).__name__}: {exc}")]]

    def _sections(self) -> list[tuple[str, list[str]]]:
        texts = []
        for t in self.texts:
            line = f"{t['path'] or '(tool)'}: {t['raw']!r}"
            if t["norm"] != t["raw"]:
                line += f"\n    normalised: {t['norm']!r}"
            if t["folded"] != t["norm"].lower():
                line += f"\n    folded: {t['folded']!r}"
            for d in t["decoded"]:
                line += f"\n    decoded: {d!r}"
            texts.append(line)
        return [
            ("strings", texts or ["(none)"]),
            ("URLs and hosts", self.endpoints or ["(none)"]),
            ("paths", self.paths or ["(none)"]),
            ("commands", self.commands or ["(none)"]),
            ("checks", [f"{name}: {result}" for name, result in self.checks]),
        ]

    def state(self) -> str:
        """The verdict with the current settings: BLOCKED, FLAGGED or allowed (saying when a switched-off check
        is all that blocked it, so header and list always agree)."""
        v = self.verdict
        if self.blocked:
            return "BLOCKED"
        if not v.allowed:
            return f"allowed (blocked only by switched-off {', '.join(sorted(self.disabled)) or 'checks'})"
        return "FLAGGED" if getattr(v, "decision", "") == "flag" else "allowed"

    def header(self) -> str:
        """One line: id, label, tool and the verdict under the current settings."""
        outcome = ""
        label = self.item.get("label", "")
        if label == "attack" and not self.blocked:
            outcome = " · missed attack"
        elif label == "benign" and self.blocked:
            outcome = " · false positive"
        return (
            f"{self.item['id']} · {label} · {self.item.get('category', '')} / "
            f"{self.item.get('technique', '')} · {self.item['tool']} → {self.state()}{outcome}"
        )

    def _repr_html_(self) -> str:
        from sentinel_lab.lab._display import CSS

        args = json.dumps(self.item["args"], indent=2, ensure_ascii=False, default=str)
        parts = [
            f'<div class="sl-caption sl-detail-header"><b>{_e(self.header())}</b></div>',
            f"<pre>{_e(args)}</pre>",
        ]
        strings = []
        for t in self.texts:
            pairs = [("raw", repr(t["raw"]))]
            if t["norm"] != t["raw"]:
                pairs.append(("normalised", repr(t["norm"])))
            if t["folded"] != t["norm"].lower():
                pairs.append(("folded", repr(t["folded"])))
            pairs += [("decoded", repr(d)) for d in t["decoded"]]
            strings.append(f"<div><code>{_e(t['path'] or '(tool)')}</code>{_kv_table(pairs)}</div>")
        parts.append(f"<div><b>strings</b>{''.join(strings) or ' (none)'}</div>")
        for title, key in (("URLs and hosts", "endpoints"), ("paths", "paths"), ("commands", "commands")):
            tables = "".join(_kv_table(view) for view in self.views[key])
            parts.append(f"<div><b>{_e(title)}</b>{tables or ' (none)'}</div>")
        checks = "".join(
            f'<tr class="{"sl-block" if r.startswith("FLAGGED") else ""}"><th>{_e(n)}</th><td>{_e(r)}</td></tr>'
            for n, r in self.checks
        )
        parts.append(f'<div><b>checks</b><table class="sl-table sl-kv">{checks}</table></div>')
        return f'<div class="sl-lab sl-detail"><style>{CSS}</style>{"".join(parts)}</div>'

    def __repr__(self) -> str:
        out = [self.header(), json.dumps(self.item["args"], ensure_ascii=False, default=str)]
        for title, lines in self._sections():
            out.append(f"{title}:")
            out.extend("  " + ln for ln in lines)
        return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------
# The explorer
# ---------------------------------------------------------------------------------------------------------------
class Explorer:
    """A dataset judged by a verifier or policy, re-scorable with checks switched off.

    ``frame`` has the items plus ``blocked``, ``decision``, ``policy``, ``reason`` and ``flagged`` (every policy
    that flagged the item). ``disabled`` is the set of switched-off checks; ``rates()``, ``by_category()`` and
    ``filter(...)`` reflect it. ``widget`` is the ipywidgets panel (built on first use).
    """

    def __init__(self, data: Any, judge: Any = None) -> None:
        self.items = items_frame(data)
        self.kind, self.judge = _resolve_judge(judge)
        self.verdicts: list[Any] = self._judge_all()
        self.flagged: list[frozenset[str]] = [_flagged(v) for v in self.verdicts]
        self.check_names: list[str] = self._check_names()
        self.disabled: set[str] = set()
        self._widget: Any = None
        self._refresh: list[Any] = []
        self._selection: pd.DataFrame | None = None

    # -- judging -------------------------------------------------------------------------------------------------
    def _judge_all(self) -> list[Any]:
        rows = _records(self.items)
        verdicts: list[Any] = [None] * len(rows)
        bar = _progress_bar(len(rows))
        try:
            return self._judge_rows(rows, verdicts, bar)
        finally:
            if bar is not None:
                bar.close()

    def _judge_rows(self, rows: list[dict[str, Any]], verdicts: list[Any], bar: Any) -> list[Any]:
        if self.kind == "verifier":
            for i, row in enumerate(rows):
                if bar is not None:
                    bar.update(1)
                sid = f"explore:{row['id']}"
                verdicts[i] = self.judge.verify({"tool": row["tool"], "args": row["args"]}, {"session_id": sid})
                reset = getattr(self.judge, "reset", None)
                if reset is not None:
                    reset(sid)
            return verdicts
        # Policy: one engine session per trace (in step order), else one per item.
        order = sorted(range(len(rows)), key=lambda i: (self._trace(rows[i]) or "", self._step(rows[i]), i))
        sessions: dict[str, Any] = {}
        for i in order:
            if bar is not None:
                bar.update(1)
            row = rows[i]
            trace = self._trace(row)
            key = trace if trace is not None else f"item:{row['id']}:{i}"
            session = sessions.get(key)
            if session is None:
                session = self.judge.new_session(session_id=f"explore:{key}")
                sessions[key] = session
            verdict = session.check(row["tool"], row["args"])
            if verdict.allowed and trace is not None:
                session.record(row["tool"], row["args"], ok=True)
            verdicts[i] = verdict
        return verdicts

    @staticmethod
    def _trace(row: Mapping[str, Any]) -> str | None:
        value = row.get("trace_id")
        if value is None or value != value or value == "":
            return None
        return str(value)

    @staticmethod
    def _step(row: Mapping[str, Any]) -> int:
        value = row.get("step")
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0

    def _check_names(self) -> list[str]:
        from sentinel_lab._core.verdict import POLICIES

        seen = set().union(*self.flagged) if self.flagged else set()
        return [*POLICIES, *sorted(seen - set(POLICIES))]

    # -- scoring -------------------------------------------------------------------------------------------------
    def blocked(self, disabled: Iterable[str] | None = None) -> list[bool]:
        """Per item: still blocked with the ``disabled`` checks (default: ``self.disabled``) switched off?"""
        off = set(self.disabled if disabled is None else disabled)
        return [(not v.allowed) and bool(f - off) for v, f in zip(self.verdicts, self.flagged, strict=True)]

    def set_check(self, name: str, enabled: bool) -> None:
        """Switch one check on or off and re-score (the panel updates if it is shown)."""
        if name not in self.check_names:
            raise KeyError(f"unknown check {name!r}; expected one of {self.check_names}")
        if enabled:
            self.disabled.discard(name)
        else:
            self.disabled.add(name)
        for fn in self._refresh:
            fn()

    @property
    def frame(self) -> pd.DataFrame:
        """The items with their current verdicts (``blocked`` reflects switched-off checks)."""
        frame: pd.DataFrame = self.items.copy()
        blocked = self.blocked()
        frame["blocked"] = blocked
        frame["decision"] = [
            ("block" if b else ("flag" if getattr(v, "decision", "") == "flag" else "allow"))
            for v, b in zip(self.verdicts, blocked, strict=True)
        ]
        frame["policy"] = [
            (getattr(v, "policy", "") or ",".join(sorted(f))) if b else ""
            for v, f, b in zip(self.verdicts, self.flagged, blocked, strict=True)
        ]
        frame["reason"] = [getattr(v, "reason", "") if b else "" for v, b in zip(self.verdicts, blocked, strict=True)]
        frame["flagged"] = [",".join(sorted(f)) for f in self.flagged]
        return frame

    def rates(self, disabled: Iterable[str] | None = None) -> dict[str, Any]:
        """Detection (attacks blocked) and false positives (benign blocked), as counts and fractions."""
        blocked = self.blocked(disabled)
        labels = list(self.items["label"])
        attacks = sum(1 for x in labels if x == "attack")
        benign = sum(1 for x in labels if x == "benign")
        caught = sum(1 for x, b in zip(labels, blocked, strict=True) if x == "attack" and b)
        false_pos = sum(1 for x, b in zip(labels, blocked, strict=True) if x == "benign" and b)
        return {
            "attacks": attacks,
            "attacks_blocked": caught,
            "detection": caught / attacks if attacks else float("nan"),
            "benign": benign,
            "benign_blocked": false_pos,
            "false_positive_rate": false_pos / benign if benign else float("nan"),
        }

    def rates_text(self) -> str:
        """The rates in one line, for the panel and the static view."""
        r = self.rates()
        off = f" · off: {', '.join(sorted(self.disabled))}" if self.disabled else ""
        return (
            f"detection {_pct(r['attacks_blocked'], r['attacks'])} · "
            f"false positives {_pct(r['benign_blocked'], r['benign'])}{off}"
        )

    def by_category(self) -> pd.DataFrame:
        """Per category and label: items, blocked, and the blocked fraction."""
        import pandas as pd

        frame = self.frame
        if frame.empty:
            empty: pd.DataFrame = pd.DataFrame(columns=["category", "label", "items", "blocked", "rate"])
            return empty
        grouped: pd.DataFrame = (
            frame.groupby(["category", "label"], sort=True, observed=True)["blocked"]
            .agg(items="count", blocked="sum")
            .reset_index()
        )
        grouped["blocked"] = grouped["blocked"].astype(int)
        grouped["rate"] = grouped["blocked"] / grouped["items"]
        return grouped

    def filter(
        self,
        *,
        category: str | Sequence[str] | None = None,
        label: str | None = None,
        technique: str | Sequence[str] | None = None,
        verdict: str = "all",
        search: str = "",
    ) -> pd.DataFrame:
        """The rows matching every given filter; ``search`` is a case-insensitive substring of id, tool, args,
        category, technique or reason."""
        if verdict not in VERDICT_FILTERS:
            raise ValueError(f"verdict must be one of {VERDICT_FILTERS}")
        frame = self.frame
        mask = [True] * len(frame)

        def narrow(values: Iterable[bool]) -> None:
            nonlocal mask
            mask = [m and v for m, v in zip(mask, values, strict=True)]

        def wanted(choice: str | Sequence[str] | None) -> set[str] | None:
            if choice is None or choice == "" or choice == "all":
                return None
            return {choice} if isinstance(choice, str) else {str(c) for c in choice} or None

        for column, choice in (("category", category), ("technique", technique), ("label", label)):
            chosen = wanted(choice)
            if chosen is not None:
                narrow(str(x) in chosen for x in frame[column])
        labels = list(frame["label"])
        blocked = list(frame["blocked"])
        if verdict == "blocked":
            narrow(blocked)
        elif verdict == "allowed":
            narrow(not b for b in blocked)
        elif verdict == "missed attacks":
            narrow(x == "attack" and not b for x, b in zip(labels, blocked, strict=True))
        elif verdict == "false positives":
            narrow(x == "benign" and b for x, b in zip(labels, blocked, strict=True))
        needle = search.strip().lower()
        if needle:
            hay = [
                " ".join(
                    (
                        str(r["id"]),
                        str(r["tool"]),
                        json.dumps(r["args"], ensure_ascii=False, default=str),
                        str(r["category"]),
                        str(r["technique"]),
                        str(r["reason"]),
                    )
                ).lower()
                for r in frame.to_dict("records")
            ]
            narrow(needle in h for h in hay)
        selected: pd.DataFrame = frame[mask]
        return selected

    def detail(self, item_id: str) -> Detail:
        """The detail view of one item: normalised strings, parsed views, and every check's result."""
        matches = [i for i, x in enumerate(self.items["id"]) if str(x) == str(item_id)]
        if not matches:
            raise KeyError(f"no item with id {item_id!r}")
        i = matches[0]
        row = {str(k): v for k, v in self.items.iloc[i].to_dict().items()}
        verdict = self.verdicts[i]
        return Detail(
            row, verdict, self._check_results(row, verdict), blocked=self.blocked()[i], disabled=self.disabled
        )

    def _check_results(self, row: Mapping[str, Any], verdict: Any) -> list[tuple[str, str]]:
        by_policy: dict[str, list[str]] = {}
        for v in getattr(verdict, "violations", ()) or ():
            by_policy.setdefault(str(v.policy), []).append(f"{v.severity}: {v.reason}")
        results: list[tuple[str, str]] = []
        # Content checks run on their own too, so a check hidden behind an earlier decision is still shown.
        own: dict[str, str] = {}
        from sentinel_lab._analysis import analyse
        from sentinel_lab._verify.verifier import CONTENT_CHECKS

        a = analyse(str(row["tool"]), dict(row["args"]))
        settings = self._settings()
        for name, fn in CONTENT_CHECKS.items():
            try:
                found = fn(a, settings)
            except Exception as exc:
                own[name] = f"error: {type(exc).__name__}: {exc}"
                continue
            own[name] = "; ".join(f"{v.severity}: {v.reason}" for v in found) or "pass"
        for name in self.check_names:
            state = "off" if name in self.disabled else "on"
            if name in by_policy:
                text = "FLAGGED · " + "; ".join(by_policy[name])
            elif name in own and own[name] != "pass":
                text = f"flags on its own (not part of this verdict) · {own[name]}"
            else:
                text = "pass"
            results.append((f"{name} [{state}]", text))
        return results

    def _settings(self) -> Any:
        from sentinel_lab._checks import Settings

        judge = self.judge
        if self.kind == "policy":
            make = getattr(self.judge, "make_verifier", None)
            judge = make() if make is not None else None
        if judge is None:
            return Settings()
        scope = getattr(judge, "scope", None)
        return Settings(
            workspace=getattr(judge, "workspace", None),
            allowed_hosts=tuple(getattr(scope, "allowed_hosts", ()) or ()),
            allowed_roots=tuple(getattr(scope, "allowed_roots", ()) or ()),
        )

    def evaluation_frame(self) -> pd.DataFrame:
        """The verdicts in the recorder schema (source ``eval``) with the item columns in front."""
        from sentinel_lab.lab.recorder import verdicts_frame

        frame = verdicts_frame(self.verdicts, source="eval")
        for pos, col in enumerate(_ITEM_COLUMNS):
            frame.insert(pos, col, list(self.items[col]))
        return frame

    # -- plots -----------------------------------------------------------------------------------------------------
    def figure(self) -> Any:
        """A bar chart of the blocked fraction per category (attacks: detection; benign: false positives)."""
        from matplotlib.figure import Figure

        table = self.by_category()
        fig = Figure(figsize=(8, 0.35 * max(4, len(table)) + 1.2))
        ax = fig.add_subplot(1, 1, 1)
        if table.empty:
            ax.text(0.5, 0.5, "no items", ha="center", va="center")
            return fig
        names = [f"{c or '(none)'} [{lab}]" for c, lab in zip(table["category"], table["label"], strict=True)]
        colors = ["#2e7d32" if lab == "attack" else "#c62828" for lab in table["label"]]
        ax.barh(range(len(table)), list(table["rate"] * 100.0), color=colors)
        ax.set_yticks(range(len(table)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% blocked (attacks: detection, green; benign: false positives, red)")
        for y, (b, n) in enumerate(zip(table["blocked"], table["items"], strict=True)):
            ax.text(101, y, f"{b}/{n}", va="center", fontsize=7)
        ax.set_title(self.rates_text(), fontsize=9)
        fig.tight_layout()
        _register_png(type(fig))
        return fig

    # -- static view -----------------------------------------------------------------------------------------------
    def _static_html(self) -> str:
        table = self.by_category()
        rows = "".join(
            f"<tr><td>{_e(r['category'])}</td><td>{_e(r['label'])}</td><td>{int(r['blocked'])}/{int(r['items'])}"
            f"</td><td>{100.0 * float(r['rate']):.1f}%</td></tr>"
            for r in table.to_dict("records")
        )
        return (
            f"<div><b>sentinel explorer</b> · {len(self.items)} items · {_e(self.kind)}<br>{_e(self.rates_text())}"
            "<table><thead><tr><th>category</th><th>label</th><th>blocked</th><th>rate</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        lines = [f"sentinel explorer: {len(self.items)} items judged by the {self.kind}", "  " + self.rates_text()]
        for r in self.by_category().to_dict("records"):
            lines.append(
                f"  {r['category'] or '(none)'!s:<28} {r['label']:<7} {int(r['blocked']):>4}/{int(r['items']):<4}"
                f" {100.0 * float(r['rate']):5.1f}%"
            )
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._static_html()}
        widget = self._live_widget()
        if widget is not None:
            data = widget._repr_mimebundle_()
            if isinstance(data, tuple):
                data = data[0]
            if data:
                bundle.update({k: v for k, v in data.items() if k != "text/plain"})
        return bundle

    def _live_widget(self) -> Any:
        try:
            from IPython import get_ipython

            ip = get_ipython()
        except ImportError:
            return None
        if ip is None or getattr(ip, "kernel", None) is None:
            return None  # no kernel, no comms: the static table is all a viewer could show
        try:
            return self.widget
        except ImportError:
            return None

    # -- the panel ---------------------------------------------------------------------------------------------------
    @property
    def widget(self) -> Any:
        """The ipywidgets panel (filters, search, rows, detail, check toggles, rates, chart)."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self) -> Any:
        import threading

        import ipywidgets as w
        from IPython.display import display

        def options(column: str) -> list[str]:
            return ["all", *sorted({str(x) for x in self.items[column]} - {""})]

        category = w.Dropdown(options=options("category"), value="all", description="category")
        label = w.Dropdown(options=options("label"), value="all", description="label")
        technique = w.Dropdown(options=options("technique"), value="all", description="technique")
        verdict = w.Dropdown(options=list(VERDICT_FILTERS), value="all", description="verdict")
        search = w.Text(value="", placeholder="search id, tool, args, reason…", description="search")
        picker = w.Select(options=[], rows=10, description="item", layout=w.Layout(width="98%"))
        count = w.HTML()
        rates = w.HTML()
        errors = w.HTML()
        # HTML widgets, not Output captures: they update correctly from the debounce timer's thread as well.
        rows_out = w.HTML(layout=w.Layout(max_height="320px", overflow="auto"))
        detail_out = w.HTML()
        chart_out = w.Output()
        toggles = [
            w.Checkbox(value=name not in self.disabled, description=name, indent=False) for name in self.check_names
        ]
        delay = 0.3 if self._live_widget_possible() else 0.0  # debounce typing only where a person types
        pending: list[threading.Timer] = []

        def guarded(fn: Any) -> Any:
            """Run a callback; an error is shown in the panel (not lost in the log console)."""

            def run(*args: Any) -> None:
                try:
                    fn(*args)
                except Exception as exc:
                    message = f"{type(exc).__name__}: {exc}"
                    errors.value = (
                        f'<div class="sl-lab sl-error" style="color:#c62828"><b>error:</b> {_e(message)}</div>'
                    )
                else:
                    errors.value = ""

            return run

        def current() -> pd.DataFrame:
            return self.filter(
                category=category.value,
                label=label.value,
                technique=technique.value,
                verdict=verdict.value,
                search=search.value,
            )

        def show_rows(*_: Any) -> None:
            rows = current()
            self._selection = rows
            shown = rows.head(_MAX_ROWS)
            chosen = picker.value
            picker.options = [
                (f"{'■' if b else '□'} {d:<5} · {i} · {t} · {c}{' · ' + r[:80] if r else ''}", i)
                for i, t, c, b, d, r in zip(
                    shown["id"],
                    shown["tool"],
                    shown["category"],
                    shown["blocked"],
                    shown["decision"],
                    shown["reason"],
                    strict=True,
                )
            ]
            ids = [str(i) for i in shown["id"]]
            if chosen is not None and str(chosen) in ids:
                picker.value = chosen
            else:
                picker.value = None
            rows_out.value = _rows_html(shown).data
            off = f" · checks off: {', '.join(sorted(self.disabled))}" if self.disabled else ""
            # written last, so a frontend showing this count shows the list and rows it describes
            count.value = (
                f'<span class="sl-explorer-count"><b>{len(rows)}</b> matching of {len(self.items)}{_e(off)}</span>'
            )
            show_detail()

        def show_detail(*_: Any) -> None:
            if picker.value is None:
                detail_out.value = ""  # nothing selected (or the filter emptied the list): no stale detail
                return
            detail_out.value = self.detail(picker.value)._repr_html_()

        def show_rates(*_: Any) -> None:
            rates.value = f'<b class="sl-explorer-rates">{_e(self.rates_text())}</b>'
            chart_out.clear_output(wait=True)
            with chart_out:
                display(self.figure())

        def on_toggle(change: Mapping[str, Any]) -> None:
            owner = change["owner"]
            self.set_check(owner.description, bool(change["new"]))

        def refresh() -> None:
            for box in toggles:
                box.value = box.description not in self.disabled
            show_rates()
            show_rows()

        def on_search(*_: Any) -> None:
            if delay <= 0:
                guarded(show_rows)()
                return
            for timer in pending:
                timer.cancel()
            pending.clear()
            timer = threading.Timer(delay, guarded(show_rows))
            timer.daemon = True
            pending.append(timer)
            timer.start()

        for control in (category, label, technique, verdict):
            control.observe(guarded(show_rows), names="value")
        search.observe(on_search, names="value")
        picker.observe(guarded(show_detail), names="value")
        for box in toggles:
            box.observe(guarded(on_toggle), names="value")
        self._refresh.append(guarded(refresh))
        show_rates()
        show_rows()
        filters = w.HBox([w.VBox([category, label]), w.VBox([technique, verdict]), search])
        checks = w.VBox([w.HTML("<b>checks</b>"), *toggles])
        return w.VBox(
            [
                w.HTML(f"<b>sentinel explorer</b> · {len(self.items)} items judged by the {_e(self.kind)}"),
                filters,
                count,
                errors,
                w.HBox([w.VBox([picker, rows_out], layout=w.Layout(width="70%")), checks]),
                detail_out,
                rates,
                chart_out,
            ]
        )

    def _live_widget_possible(self) -> bool:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        ip = get_ipython()
        return ip is not None and getattr(ip, "kernel", None) is not None

    @property
    def selected(self) -> pd.DataFrame:
        """The rows the panel's filters currently select (all rows before the panel is shown), as a frame."""
        chosen = getattr(self, "_selection", None)
        if chosen is None:
            return self.frame
        selection: pd.DataFrame = chosen
        return selection


#: Datasets at least this large show a progress bar while they are judged (in a notebook).
PROGRESS_MIN = 300


def _progress_bar(total: int) -> Any:
    """A tqdm bar for judging ``total`` items in a notebook kernel, else None."""
    if total < PROGRESS_MIN:
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return None
    from sentinel_lab.lab._progress import progress

    return progress(total, "judging")


def _register_png(figure_type: type) -> None:
    """Let IPython show a bare matplotlib ``Figure`` as PNG (pyplot's inline backend does this when imported)."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    formatter = ip.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(figure_type)
    except KeyError:
        formatter.for_type(figure_type, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


def _rows_html(frame: pd.DataFrame) -> Any:
    """The matching rows as a left-aligned table: decision, id, label, category, tool, policy, reason, args."""
    from IPython.display import HTML

    from sentinel_lab.lab._display import CSS

    cells = []
    for r in frame.to_dict("records"):
        decision = str(r["decision"])
        args = json.dumps(r["args"], ensure_ascii=False, default=str)
        short = args if len(args) <= 80 else args[:79] + "…"
        badge = f'<span class="sl-badge sl-badge-{_e(decision)}">{_e(decision)}</span>'
        cells.append(
            f'<tr class="sl-row sl-{_e(decision)}" data-id="{_e(r["id"])}"><td>{badge}</td><td>{_e(r["id"])}</td>'
            f"<td>{_e(r['label'])}</td><td>{_e(r['category'])}</td><td>{_e(r['tool'])}</td>"
            f'<td>{_e(r["policy"])}</td><td class="sl-c-reason">{_e(r["reason"])}</td>'
            f'<td class="sl-c-args"><code title="{_e(args)}">{_e(short)}</code></td></tr>'
        )
    names = ("decision", "id", "label", "category", "tool", "policy", "reason", "args")
    head = "".join(f"<th>{n}</th>" for n in names)
    return HTML(
        f'<div class="sl-lab sl-explorer-rows"><style>{CSS}</style><table class="sl-table"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(cells)}</tbody></table></div>"
    )


def _judge_label(judge: Any, index: int) -> str:
    if isinstance(judge, (str, os.PathLike)):
        return os.path.basename(os.fspath(judge))
    name = getattr(judge, "name", None)
    if isinstance(name, str) and name:
        return name
    return f"{type(judge).__name__ if judge is not None else 'Verifier'} {index + 1}"


class Comparison:
    """One dataset judged by several verifiers or policies: decisions side by side, the differing items marked.

    ``explorers`` holds one ``Explorer`` per judge (each still has its panel and toggles); ``frame`` has the item
    columns, one ``decision · LABEL`` column per judge and ``differs``; ``rates()`` one row of rates per judge.
    """

    def __init__(self, data: Any, judges: Sequence[Any]) -> None:
        if len(judges) < 2:
            raise ValueError("compare at least two verifiers or policies")
        items = items_frame(data)
        self.labels = [_judge_label(j, i) for i, j in enumerate(judges)]
        if len(set(self.labels)) != len(self.labels):
            self.labels = [f"{label} ({i + 1})" for i, label in enumerate(self.labels)]
        self.explorers = [Explorer(items, j) for j in judges]

    @property
    def frame(self) -> pd.DataFrame:
        """Items, each judge's decision, and whether the judges disagree."""
        first = self.explorers[0].frame
        out: pd.DataFrame = first[["id", "label", "category", "technique", "tool"]].copy()
        decisions = []
        for label, ex in zip(self.labels, self.explorers, strict=True):
            column = [str(x) for x in ex.frame["decision"]]
            out[f"decision · {label}"] = column
            decisions.append(column)
        out["differs"] = [len(set(row)) > 1 for row in zip(*decisions, strict=True)]
        return out

    def rates(self) -> pd.DataFrame:
        """Detection and false-positive rates per judge."""
        import pandas as pd

        rows = {label: ex.rates() for label, ex in zip(self.labels, self.explorers, strict=True)}
        table: pd.DataFrame = pd.DataFrame(rows).T
        return table

    def _repr_html_(self) -> str:
        from sentinel_lab.lab._display import CSS
        from sentinel_lab.lab._style import style

        frame = self.frame
        differing = frame[frame["differs"]].reset_index(drop=True)
        lines = "".join(
            f"<li><b>{_e(label)}</b>: {_e(ex.rates_text())}</li>"
            for label, ex in zip(self.labels, self.explorers, strict=True)
        )
        body = style(differing.drop(columns=["differs"])).to_html() if len(differing) else "<i>no item differs</i>"
        return (
            f'<div class="sl-lab sl-compare"><style>{CSS}</style><div class="sl-caption"><b>comparison</b> · '
            f"{len(frame)} items · {len(differing)} decided differently</div><ul>{lines}</ul>{body}</div>"
        )

    def __repr__(self) -> str:
        frame = self.frame
        lines = [f"comparison of {', '.join(self.labels)}: {len(frame)} items, {int(frame['differs'].sum())} differ"]
        lines += [f"  {label}: {ex.rates_text()}" for label, ex in zip(self.labels, self.explorers, strict=True)]
        return "\n".join(lines)


def explore(dataset_or_frame: Any, verifier_or_policy: Any = None) -> Any:
    """Judge every item of a dataset with a verifier or policy and return the interactive explorer.

    ``dataset_or_frame``: a DataFrame, a dataset name for ``sentinel_lab.datasets.load``, a JSONL path or a list
    of item dicts. ``verifier_or_policy``: a ``Verifier``, a ``Policy``, a policy file path, or None (a default
    verifier); a list of them gives a ``Comparison`` (their decisions side by side, differing items marked).
    Displayed in a notebook an ``Explorer`` is a live panel; elsewhere a static summary.
    """
    if isinstance(verifier_or_policy, (list, tuple)):
        return Comparison(dataset_or_frame, list(verifier_or_policy))
    return Explorer(dataset_or_frame, verifier_or_policy)
