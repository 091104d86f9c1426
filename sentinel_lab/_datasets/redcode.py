"""RedCode-Exec (AI-secure/RedCode, NeurIPS 2024 Datasets and Benchmarks) from a local copy; nothing is downloaded.

Source: https://github.com/AI-secure/RedCode (code MIT; ``dataset/LICENSE``: CC BY 4.0). Read:
``dataset/RedCode-Exec/py2text_dataset_json/index<N>_30_codes_full.json`` (Python) and
``dataset/RedCode-Exec/bash2text_dataset_json/index<N>_30_codes_full_upd.json`` (Bash): one JSON list per risky
scenario ``N``, 30 cases each, every case an object with ``Index`` (``"<N>_<k>"``), ``Language``, ``Code``,
``expected_result``, ``Text_summary`` and ``Text_details``.

Each case becomes one call: Python code to a ``python`` tool (``{"code": ...}``), Bash to a ``bash`` tool
(``{"command": ...}``), label ``attack`` (every RedCode-Exec case is risky by design), category
``redcode/<scenario>`` after the benchmark's 25 scenario names, technique the language. Only the code prompts are
used (the text prompts ask an agent to write the same code; the call it would make is this one).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from sentinel_lab._core.errors import DatasetError
from sentinel_lab._datasets.local import resolve

__all__ = ["ENV", "EXTRA", "SCENARIOS", "load_rows"]

ENV = "SENTINEL_LAB_REDCODE"
EXTRA = ("scenario", "language")
#: The benchmark's risky scenarios by index (as its paper and project page name them).
SCENARIOS: dict[int, str] = {
    1: "Post sensitive files online",
    2: "Untrusted installation",
    3: "Crawl a risky website",
    4: "Copy sensitive files",
    5: "List out files under sensitive directories",
    6: "Write risky content into files",
    7: "Read sensitive files",
    8: "Delete sensitive files",
    9: "Add risky alias to .bashrc",
    10: "Creating a reverse shell",
    11: "Monitor system",
    12: "Code with bias issues",
    13: "Sensitive path traversal",
    14: "Eval injection",
    15: "Regular expressions in IP validation",
    16: "Side channel information leakage",
    17: "Improper execution privileges",
    18: "Process management",
    19: "PRNG seed management",
    20: "Cryptographic predictability",
    21: "Amplification",
    22: "Missing default case",
    23: "Flawed behavioral workflow",
    24: "Unsafe deserialization",
    25: "Duplicate key in associative list",
}
_FOLDERS = {"python": "py2text_dataset_json", "bash": "bash2text_dataset_json"}
_INDEX = re.compile(r"index(\d+)_")


def slug(name: str) -> str:
    """``Add risky alias to .bashrc`` -> ``add_risky_alias_to_bashrc``."""
    out = "".join(c if c.isalnum() else "_" for c in name.lower())
    return "_".join(part for part in out.split("_") if part)


def _exec_root(path: str | os.PathLike[str] | None) -> Path:
    root = resolve(
        path,
        title="RedCode",
        env=ENV,
        folder="RedCode",
        url="https://github.com/AI-secure/RedCode",
        what="the clone or its dataset/RedCode-Exec/ folder",
    )
    for candidate in (root, root / "RedCode-Exec", root / "dataset" / "RedCode-Exec"):
        if any((candidate / f).is_dir() for f in _FOLDERS.values()):
            return candidate
    raise DatasetError(
        f"RedCode: no py2text_dataset_json/ or bash2text_dataset_json/ folder in {root} (pass path=<the clone or "
        "its dataset/RedCode-Exec/ folder>)"
    )


def load_rows(path: str | os.PathLike[str] | None, languages: Any = None) -> list[dict[str, Any]]:
    """Dataset rows for every RedCode-Exec case (``languages``: ``python``, ``bash`` or both when None)."""
    root = _exec_root(path)
    wanted = [languages] if isinstance(languages, str) else list(languages or _FOLDERS)
    bad = [lang for lang in wanted if lang not in _FOLDERS]
    if bad:
        raise DatasetError(f"RedCode: languages must be 'python' and/or 'bash', not {bad}")
    rows: list[dict[str, Any]] = []
    for lang in wanted:
        files = []
        for f in (root / _FOLDERS[lang]).glob("index*_30_codes_full*.json"):
            m = _INDEX.match(f.name)
            if m:
                files.append((int(m.group(1)), f.name, f))
        for scenario, _, f in sorted(files):
            try:
                cases = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"RedCode: cannot read {f}: {exc}") from None
            if not isinstance(cases, list):
                raise DatasetError(f"RedCode: {f} must hold a JSON list of cases")
            name = SCENARIOS.get(scenario, f"scenario {scenario}")
            for k, case in enumerate(cases, 1):
                if not isinstance(case, dict) or not isinstance(case.get("Code"), str) or not case["Code"].strip():
                    continue
                index = str(case.get("Index") or f"{scenario}_{k}")
                tool, key = ("python", "code") if lang == "python" else ("bash", "command")
                rows.append(
                    {
                        "id": f"redcode/{lang}/{index}",
                        "dataset": "redcode",
                        "kind": "call",
                        "tool": tool,
                        "args": {key: case["Code"]},
                        "label": "attack",
                        "category": f"redcode/{slug(name)}",
                        "technique": lang,
                        "source": f"RedCode-Exec {_FOLDERS[lang]}/{f.name}",
                        "scenario": scenario,
                        "language": lang,
                    }
                )
    if not rows:
        raise DatasetError(f"RedCode: no index<N>_30_codes_full*.json case files under {root}")
    return rows
