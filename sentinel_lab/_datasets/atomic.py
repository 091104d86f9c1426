"""Atomic Red Team (redcanaryco/atomic-red-team, MIT) from a local copy; nothing is downloaded.

Source: https://github.com/redcanaryco/atomic-red-team. Read: ``atomics/T*/T*.yaml``, each with
``attack_technique`` (the ATT&CK id), ``display_name`` and ``atomic_tests``: a list of tests with ``name``,
``auto_generated_guid``, ``supported_platforms``, ``input_arguments`` (``{name: {description, type, default}}``)
and ``executor`` (``name``: ``sh``, ``bash``, ``powershell``, ``command_prompt`` or ``manual``; ``command``;
``elevation_required``; ``cleanup_command``). The tactic of each technique comes from
``atomics/Indexes/Indexes-CSV/index.csv`` (columns ``Tactic``, ``Technique #``, ...) when the copy has it.

Each test with a command becomes one attack call: ``sh``/``bash`` to a ``bash`` tool, ``powershell`` to a
``powershell`` tool, ``command_prompt`` to a ``cmd`` tool (``{"command": ...}``), with every ``#{name}``
placeholder replaced by its argument's default (the way the project's own runner fills them) and the runner's
``PathToAtomicsFolder`` token by its default install folder. Manual tests (steps for a person, no command) and
other executors are skipped and counted; cleanup commands and prerequisite commands are not calls of the attack
and are left out. Category ``atomic/<tactic>`` (the first tactic the index lists for the technique), or
``atomic/<technique family>`` (e.g. ``atomic/T1003``) without the index; technique the ATT&CK id.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import yaml

from sentinel_lab._core.errors import DatasetError
from sentinel_lab._datasets.local import resolve

__all__ = ["ENV", "EXTRA", "TOOLS", "load_rows", "substitute"]

ENV = "SENTINEL_LAB_ATOMIC_RED_TEAM"
EXTRA = ("platforms", "elevation_required", "test_name")
#: executor name -> tool name
TOOLS = {"sh": "bash", "bash": "bash", "powershell": "powershell", "command_prompt": "cmd"}
_ATOMICS_FOLDER = {"bash": "$HOME/AtomicRedTeam/atomics", "powershell": r"C:\AtomicRedTeam\atomics"}
_ATOMICS_FOLDER["cmd"] = _ATOMICS_FOLDER["powershell"]


def substitute(command: str, arguments: Any) -> str:
    """``command`` with each ``#{name}`` replaced by the default of input argument ``name`` (unknown ones kept).

    Defaults may name other arguments; a few passes resolve those, and the number of passes is bounded.
    """
    defaults: dict[str, str] = {}
    if isinstance(arguments, dict):
        for name, spec in arguments.items():
            value = spec.get("default") if isinstance(spec, dict) else None
            if value is None:
                value = ""
            if isinstance(value, bool):
                value = str(value).lower()
            defaults[str(name)] = str(value)
    for _ in range(4):
        out: list[str] = []
        i = 0
        changed = False
        while True:
            j = command.find("#{", i)
            if j < 0:
                out.append(command[i:])
                break
            k = command.find("}", j + 2)
            if k < 0:
                out.append(command[i:])
                break
            name = command[j + 2 : k]
            out.append(command[i:j])
            if name in defaults:
                out.append(defaults[name])
                changed = True
            else:
                out.append(command[j : k + 1])
            i = k + 1
        command = "".join(out)
        if not changed:
            break
    return command


def _tactics(root: Path) -> dict[str, str]:
    index = root / "Indexes" / "Indexes-CSV" / "index.csv"
    out: dict[str, str] = {}
    if not index.is_file():
        return out
    try:
        with index.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                technique = (row.get("Technique #") or "").strip()
                tactic = (row.get("Tactic") or "").strip()
                if technique and tactic:
                    out.setdefault(technique, tactic)
    except (OSError, csv.Error) as exc:
        raise DatasetError(f"Atomic Red Team: cannot read {index}: {exc}") from None
    return out


def load_rows(path: str | os.PathLike[str] | None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Attack rows for every automated test, and the count of tests skipped by reason."""
    root = resolve(
        path,
        title="Atomic Red Team",
        env=ENV,
        folder="atomic-red-team",
        url="https://github.com/redcanaryco/atomic-red-team",
        what="the clone or its atomics/ folder",
    )
    if (root / "atomics").is_dir():
        root = root / "atomics"
    files = sorted(p for p in root.glob("T*/T*.yaml") if p.is_file() and p.stem == p.parent.name)
    if not files:
        raise DatasetError(f"Atomic Red Team: no atomics/T*/T*.yaml files under {root}")
    tactics = _tactics(root)
    rows: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"Atomic Red Team: cannot read {f}: {exc}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            # a few upstream files are not valid YAML (an unquoted ``*.docx`` reads as an alias): the file is
            # counted, not guessed at, and the rest of the collection still loads
            skipped["invalid YAML file"] = skipped.get("invalid YAML file", 0) + 1
            continue
        if not isinstance(doc, dict):
            continue
        named = doc.get("attack_technique")
        if isinstance(named, list):  # older files list the technique: ``attack_technique: ['T1119']``
            named = named[0] if named else None
        technique = str(named or f.stem)
        tactic = tactics.get(technique) or technique.split(".")[0]
        for n, test in enumerate(doc.get("atomic_tests") or [], 1):
            if not isinstance(test, dict):
                continue
            raw = test.get("executor")
            executor: dict[str, Any] = raw if isinstance(raw, dict) else {}
            kind = str(executor.get("name") or "")
            command = executor.get("command")
            tool = TOOLS.get(kind)
            if tool is None or not isinstance(command, str) or not command.strip():
                reason = "manual" if kind == "manual" else f"executor {kind or 'missing'}"
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            text = substitute(command, test.get("input_arguments")).strip("\n")
            text = text.replace("PathToAtomicsFolder", _ATOMICS_FOLDER[tool])
            platforms = [str(p) for p in test.get("supported_platforms") or []]
            rows.append(
                {
                    "id": f"atomic/{technique}/{n}",
                    "dataset": "atomic",
                    "kind": "call",
                    "tool": tool,
                    "args": {"command": text},
                    "label": "attack",
                    "category": f"atomic/{tactic}",
                    "technique": technique,
                    "source": f"Atomic Red Team {f.parent.name}/{f.name} test {n} "
                    f"({test.get('auto_generated_guid') or 'no guid'})",
                    "platforms": ",".join(platforms),
                    "elevation_required": bool(executor.get("elevation_required", False)),
                    "test_name": str(test.get("name") or ""),
                }
            )
    return rows, skipped
