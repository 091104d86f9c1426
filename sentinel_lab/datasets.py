"""Attack and benign tool-call datasets as pandas DataFrames with one schema.

``load(name, **opts)`` returns a frame with the columns

=========== =====================================================================================
id          unique id of the row within its dataset
dataset     ``corpus``, ``paper``, ``holdout``, ``agentdojo`` or ``injecagent``
kind        ``call`` (a proposed tool call to verify) or ``output`` (a tool's result in ``text``,
            for an output scanner; ``tool``/``args`` then name the call that produced it)
tool        tool name
args        the call's arguments (dict)
text        tool output text for ``kind == "output"``, else ""
label       ``attack`` or ``benign``
harmful     True for attack calls that do harm by themselves (change state or send data out); an
            attack's read-only reconnaissance steps are ``label="attack", harmful=False``
category    what the row is about (e.g. ``ssrf``, ``agentdojo/banking``, ``injecagent/data_stealing``)
technique   how (e.g. the evasion, the AgentDojo injection task id, the InjecAgent attack type)
source      provenance
trace_id    id of the multi-step trace the row belongs to, or None
step        position in the trace (nullable Int64), or <NA>
=========== =====================================================================================

plus dataset-specific columns at the end (AgentDojo: ``suite``, ``user_task``, ``injection_task``; InjecAgent:
``user_tool``, ``attack_type``, ``setting``, ``args_source``). ``list()`` describes every dataset.
"""

from __future__ import annotations

import builtins
import os
import sys
from typing import Any

import pandas as pd

from sentinel_lab._datasets import COLUMNS, to_frame
from sentinel_lab._exceptions import DatasetError

__all__ = ["COLUMNS", "describe", "list", "load", "names"]

_INFO: dict[str, dict[str, str]] = {
    "corpus": {
        "description": "sentinel-lab corpus: attacks in seven content categories (many evasions) and benign "
        "near-misses a naive matcher would block",
        "licence": "Apache-2.0",
        "provenance": "written for sentinel-lab (datasets/corpus.jsonl)",
        "options": "path=<folder or file>",
    },
    "paper": {
        "description": "the mikoshi-sentinel paper's table structure: 46 attacks in 8 categories and 8 "
        "legitimate actions",
        "licence": "Apache-2.0",
        "provenance": "written for sentinel-lab after the paper's categories (datasets/paper.jsonl)",
        "options": "path=<folder or file>",
    },
    "holdout": {
        "description": "held-out set in the corpus's seven categories, written blind after the checks were frozen "
        "and never used for tuning",
        "licence": "Apache-2.0",
        "provenance": "written for sentinel-lab from the threat model only (datasets/holdout.jsonl)",
        "options": "path=<folder or file>",
    },
    "agentdojo": {
        "description": "AgentDojo ground-truth tool calls (user tasks benign, injection tasks attacks), full "
        "traces and injected tool outputs, computed offline from the installed package",
        "licence": "MIT",
        "provenance": "agentdojo (ethz-spylab/agentdojo), computed from each task's ground_truth() on the "
        "suite's default environment",
        "options": "version='v1.2.1', suites=None, kind='calls'|'traces'|'outputs', "
        "attack='important_instructions', cache=True, quiet=False",
    },
    "injecagent": {
        "description": "InjecAgent test cases: user-tool calls (benign), attacker-tool calls (direct harm, data "
        "stealing) and injected tool outputs",
        "licence": "MIT",
        "provenance": "InjecAgent (uiuc-kang-lab/InjecAgent), read from a local copy of its data/ folder",
        "options": "path=<InjecAgent data/ folder> (required), setting='base'|'enhanced', "
        "kind='traces'|'calls'|'outputs'",
    },
}


def names() -> builtins.list[str]:
    """The dataset names ``load`` accepts."""
    return builtins.list(_INFO)


def load(name: str, **opts: Any) -> pd.DataFrame:
    """Load dataset ``name`` as a DataFrame in the shared schema (see the module docstring).

    Raises ``DatasetError`` naming the missing extra or path when it cannot be loaded.
    """
    key = name.strip().lower()
    if key in ("corpus", "paper", "holdout"):
        from sentinel_lab._datasets.corpus import load_corpus

        _only(key, opts, {"path"})
        frame = load_corpus(key, opts.get("path"))
    elif key == "agentdojo":
        frame = _load_agentdojo(**opts)
    elif key == "injecagent":
        frame = _load_injecagent(**opts)
    else:
        raise DatasetError(f"unknown dataset {name!r}; available: {', '.join(names())}")
    frame.attrs.setdefault("dataset", key)
    return frame


def _only(name: str, opts: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(opts) - allowed)
    if extra:
        raise DatasetError(f"dataset {name!r} does not take option(s) {extra}; it takes {sorted(allowed)}")


def _load_agentdojo(
    version: str | None = None,
    suites: Any = None,
    kind: str = "calls",
    attack: str = "important_instructions",
    cache: bool = True,
    quiet: bool = False,
) -> pd.DataFrame:
    from sentinel_lab._datasets import agentdojo as ad

    version = version or ad.DEFAULT_VERSION
    if not version.startswith("v"):
        version = "v" + version
    kind = {"call": "calls", "trace": "traces", "output": "outputs"}.get(kind, kind)
    data = ad.load_records(version, attack, cache=cache)
    rows, empty = ad.rows(data, kind, suites)
    extra: tuple[str, ...] = ad.EXTRA + (("sees_injection",) if kind == "traces" else ())
    frame = to_frame(rows, extra=extra)
    if kind == "traces":
        frame["sees_injection"] = frame["sees_injection"].fillna(False).astype(bool)
    frame.attrs["empty_ground_truth"] = empty
    frame.attrs["version"] = version
    frame.attrs["agentdojo"] = data["agentdojo"]
    frame.attrs["kind"] = kind
    if empty and not quiet:
        print(
            f"note: {len(empty)} AgentDojo injection task(s) have an empty ground truth and contribute no "
            f"attack calls: {', '.join(empty)} (see df.attrs['empty_ground_truth'])",
            file=sys.stderr,
        )
    return frame


def _load_injecagent(
    path: str | os.PathLike[str] | None = None, setting: str = "base", kind: str = "traces"
) -> pd.DataFrame:
    from sentinel_lab._datasets import injecagent as ia

    kind = {"call": "calls", "trace": "traces", "output": "outputs"}.get(kind, kind)
    cases = ia.load_cases(path, setting)
    frame = to_frame(ia.rows(cases, kind, setting), extra=ia.EXTRA)
    frame.attrs["kind"] = kind
    frame.attrs["setting"] = setting
    return frame


def describe(name: str) -> dict[str, str]:
    """The description, licence, provenance and options of one dataset."""
    try:
        return dict(_INFO[name])
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; available: {', '.join(names())}") from None


def list(sizes: bool = True) -> pd.DataFrame:
    """One row per dataset: name, description, size, licence, provenance, options and availability.

    Sizes are counted by loading (AgentDojo from its cache after the first time); a dataset that cannot be
    loaded here shows size <NA> and says why in ``available``.
    """
    records = []
    for name, info in _INFO.items():
        size: Any = pd.NA
        available = "yes"
        if name == "injecagent":
            available = "needs path=<InjecAgent data/ folder>"
        elif sizes:
            try:
                frame = load(name, quiet=True) if name == "agentdojo" else load(name)
                size = len(frame)
            except DatasetError as exc:
                available = str(exc)
        records.append({"name": name, **info, "size": size, "available": available})
    out: pd.DataFrame = pd.DataFrame(
        records, columns=["name", "description", "size", "licence", "provenance", "options", "available"]
    )
    out["size"] = out["size"].astype("Int64")
    return out
