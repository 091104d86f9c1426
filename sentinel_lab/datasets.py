"""Attack and benign tool-call datasets as pandas DataFrames with one schema.

``load(name, **opts)`` returns a frame with the columns

=========== =====================================================================================
id          unique id of the row within its dataset
dataset     ``corpus``, ``paper``, ``holdout``, ``agentdojo``, ``injecagent``, or an external set: ``redcode``,
            ``atomic``, ``gtfobins``, ``nl2bash``, ``tldr``, ``bfcl``, ``docs``
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
``user_tool``, ``attack_type``, ``setting``, ``args_source``; the external sets: see their modules).
``list()`` describes every dataset.

External sets (``redcode``, ``atomic``, ``gtfobins``, ``nl2bash``, ``tldr``, ``bfcl``) are never bundled and never
downloaded: each reads a local copy given as ``path=``, or by its own environment variable
(``SENTINEL_LAB_REDCODE`` ...), or found under ``$SENTINEL_LAB_DATA/<folder>`` (``RedCode``, ``atomic-red-team``,
``GTFOBins.github.io``, ``nl2bash``, ``tldr``, ``gorilla``); ``DatasetError`` says how to get one otherwise.
``docs`` collects the documentation files of the installed packages. Which sets were used for development (``docs``
for the output scanner; ``bfcl``, ``tldr`` and ``gtfobins`` for one round of the checks; never ``atomic``) is in
``datasets/README.md``.
"""

from __future__ import annotations

import builtins
import os
import sys
from typing import Any

import pandas as pd

from sentinel_lab._core.errors import DatasetError
from sentinel_lab._datasets import COLUMNS, to_frame

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
    "redcode": {
        "description": "RedCode-Exec risky code: Python snippets to a python tool and Bash scripts to a bash tool, "
        "all attacks, in 25 risky scenarios",
        "licence": "CC-BY-4.0 (data), MIT (code)",
        "provenance": "RedCode (AI-secure/RedCode, NeurIPS 2024), read from a local copy of dataset/RedCode-Exec/",
        "options": "path=<clone or dataset/RedCode-Exec/> or $SENTINEL_LAB_REDCODE, languages=None|'python'|'bash'",
    },
    "atomic": {
        "description": "Atomic Red Team test commands (sh/bash, PowerShell, cmd) by ATT&CK technique and tactic, all "
        "attacks; manual tests and cleanup commands left out",
        "licence": "MIT",
        "provenance": "Atomic Red Team (redcanaryco/atomic-red-team), read from a local copy of atomics/",
        "options": "path=<clone or atomics/> or $SENTINEL_LAB_ATOMIC_RED_TEAM",
    },
    "gtfobins": {
        "description": "GTFOBins shell escapes, file reads/writes, transfers and reverse shells through ordinary "
        "binaries (unprivileged, sudo, SUID), all attacks",
        "licence": "GPL-3.0",
        "provenance": "GTFOBins (GTFOBins/GTFOBins.github.io), read from a local copy of _gtfobins/",
        "options": "path=<clone or _gtfobins/> or $SENTINEL_LAB_GTFOBINS",
    },
    "nl2bash": {
        "description": "NL2Bash: about 12,600 real Bash commands people wrote for everyday tasks, all benign",
        "licence": "GPL-3.0",
        "provenance": "NL2Bash (TellinaTool/nl2bash), read from a local copy of data/bash/all.cm and all.nl",
        "options": "path=<clone or data/bash/> or $SENTINEL_LAB_NL2BASH",
    },
    "tldr": {
        "description": "tldr-pages examples (English pages, placeholders filled deterministically), all benign",
        "licence": "CC-BY-4.0",
        "provenance": "tldr-pages (tldr-pages/tldr), read from a local copy of pages/",
        "options": "path=<clone or pages/> or $SENTINEL_LAB_TLDR, platforms=None|['common', 'linux', ...]",
    },
    "bfcl": {
        "description": "Berkeley Function Calling Leaderboard ground-truth calls (first acceptable value of each "
        "argument), all benign",
        "licence": "Apache-2.0",
        "provenance": "BFCL (ShishirPatil/gorilla, berkeley-function-call-leaderboard), read from a local copy of "
        "its data/possible_answer/",
        "options": "path=<clone or its data/ folder> or $SENTINEL_LAB_BFCL, categories=None|['simple', ...]",
    },
    "docs": {
        "description": "real documentation files (READMEs, changelogs, guides, licences) of the installed packages "
        "as benign tool outputs, for the output scanner",
        "licence": "each file's own",
        "provenance": "collected from this environment's installed distributions (and /usr/share/doc), "
        "deduplicated by content",
        "options": "path=None|<folder>, limit=5000, max_bytes=262144, min_chars=200, system=True",
    },
}

#: External sets read from a local copy: dataset -> (module, environment variable, folder under $SENTINEL_LAB_DATA)
_EXTERNAL: dict[str, tuple[str, str, str]] = {
    "redcode": ("redcode", "SENTINEL_LAB_REDCODE", "RedCode"),
    "atomic": ("atomic", "SENTINEL_LAB_ATOMIC_RED_TEAM", "atomic-red-team"),
    "gtfobins": ("gtfobins", "SENTINEL_LAB_GTFOBINS", "GTFOBins.github.io"),
    "nl2bash": ("nl2bash", "SENTINEL_LAB_NL2BASH", "nl2bash"),
    "tldr": ("tldr", "SENTINEL_LAB_TLDR", "tldr"),
    "bfcl": ("bfcl", "SENTINEL_LAB_BFCL", "gorilla"),
}
_ALIASES = {"atomic-red-team": "atomic", "atomic_red_team": "atomic", "tldr-pages": "tldr", "redcode-exec": "redcode"}


def names() -> builtins.list[str]:
    """The dataset names ``load`` accepts."""
    return builtins.list(_INFO)


def load(name: str, **opts: Any) -> pd.DataFrame:
    """Load dataset ``name`` as a DataFrame in the shared schema (see the module docstring).

    Raises ``DatasetError`` naming the missing extra or path when it cannot be loaded.
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in ("corpus", "paper", "holdout"):
        from sentinel_lab._datasets.corpus import load_corpus

        _only(key, opts, {"path"})
        frame = load_corpus(key, opts.get("path"))
    elif key == "agentdojo":
        frame = _load_agentdojo(**opts)
    elif key == "injecagent":
        frame = _load_injecagent(**opts)
    elif key in _EXTERNAL or key == "docs":
        frame = _load_external(key, opts)
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


def _load_external(key: str, opts: dict[str, Any]) -> pd.DataFrame:
    """One of the external sets (or the documentation corpus) as a frame."""
    from sentinel_lab._datasets import atomic, bfcl, docs, gtfobins, nl2bash, redcode, tldr

    allowed = {
        "redcode": {"path", "languages"},
        "atomic": {"path"},
        "gtfobins": {"path"},
        "nl2bash": {"path"},
        "tldr": {"path", "platforms"},
        "bfcl": {"path", "categories"},
        "docs": {"path", "limit", "max_bytes", "min_chars", "system"},
    }[key]
    _only(key, opts, allowed)
    path = opts.get("path")
    attrs: dict[str, Any] = {}
    if key == "redcode":
        frame = to_frame(redcode.load_rows(path, opts.get("languages")), extra=redcode.EXTRA)
    elif key == "atomic":
        rows, skipped = atomic.load_rows(path)
        frame = to_frame(rows, extra=atomic.EXTRA)
        frame["elevation_required"] = frame["elevation_required"].astype(bool)
        attrs["skipped"] = skipped
    elif key == "gtfobins":
        frame = to_frame(gtfobins.load_rows(path), extra=gtfobins.EXTRA)
    elif key == "nl2bash":
        frame = to_frame(nl2bash.load_rows(path), extra=nl2bash.EXTRA)
    elif key == "tldr":
        frame = to_frame(tldr.load_rows(path, opts.get("platforms")), extra=tldr.EXTRA)
    elif key == "bfcl":
        frame = to_frame(bfcl.load_rows(path, opts.get("categories")), extra=bfcl.EXTRA)
    else:
        doc_opts = {k: v for k, v in opts.items() if k != "path"}
        frame = to_frame(docs.load_rows(path, **doc_opts), extra=docs.EXTRA)
        attrs["kind"] = "outputs"
    frame.attrs.update(attrs)
    if key != "docs":
        frame.attrs["kind"] = "calls"
    return frame


def _external_availability(name: str) -> str:
    """``yes`` when a local copy of external set ``name`` is configured, else how to configure one."""
    from sentinel_lab._datasets.local import DATA_ENV, find

    _, env, folder = _EXTERNAL[name]
    root = find(None, env, folder)
    if root is not None and root.exists():
        return "yes"
    return f"needs path=<local copy> (or ${env}, or ${DATA_ENV}/{folder})"


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
        elif name in _EXTERNAL:
            available = _external_availability(name)
            if sizes and available == "yes":
                try:
                    size = len(load(name))
                except DatasetError as exc:
                    available = str(exc)
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
