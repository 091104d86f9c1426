"""The verifier's fast paths decide exactly what the full analysis decides, on every dataset we have.

Every call of every shipped dataset (``datasets/*.jsonl``), of the generated AgentDojo sets (calls, traces and
injected outputs, the outputs sent as a write's content), of the documentation corpus (the first 8 KiB of each
document, as a write's content), of the external sets present on this machine, of the tests' case lists and of
the benchmark's mix and adversarial families is judged twice: by a verifier with every fast path off (no
verdict cache) and by one with them on, each call twice (the second a verdict-cache hit). The decision, the
rule, the confidence and every violation (check, reason, severity, evidence) must be identical: in the
``workspace`` profile on everything, and in the ``admin`` profile (which changes what commands and system
reads may do) on the shipped sets, the case lists and the mix.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel_lab import Verifier
from sentinel_lab._core.errors import DatasetError, InvalidAction
from sentinel_lab.bench import FAMILIES, MIX, _sized_args

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
#: Test modules whose module-level case lists hold calls or command lines.
CASE_MODULES = (
    "_code_cases.py",
    "checks/test_checks.py",
    "checks/test_exfiltration.py",
    "checks/test_file_traversal.py",
    "checks/test_ingress.py",
    "checks/test_internal_access.py",
    "checks/test_privilege.py",
    "checks/test_system_commands.py",
)
DOC_CHARS = 8192


def _shipped() -> Iterator[tuple[str, Any]]:
    for path in sorted((ROOT / "datasets").glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                row = json.loads(line)
                yield f"{path.name}:{n}", {"tool": row["tool"], "args": row.get("args") or {}}


def _frames() -> Iterator[tuple[str, Any]]:
    """The generated and external sets, through the loaders the evaluation uses."""
    from sentinel_lab import datasets

    sets: list[tuple[str, dict[str, Any]]] = [
        ("agentdojo", {"kind": "calls", "quiet": True}),
        ("agentdojo", {"kind": "traces", "quiet": True}),
        ("agentdojo", {"kind": "outputs", "quiet": True}),
        ("docs", {}),
        *((name, {}) for name in ("redcode", "atomic", "gtfobins", "nl2bash", "tldr", "bfcl")),
    ]
    for name, opts in sets:
        try:
            frame = datasets.load(name, **opts)
        except DatasetError:
            if name in ("agentdojo", "docs"):
                raise  # generated here: always available
            continue  # an external set without a local copy on this machine
        for row in frame.itertuples(index=False):
            label = f"{name}{opts.get('kind', '')}:{row.id}"
            if row.kind == "output":
                text = row.text if name != "docs" else row.text[:DOC_CHARS]
                yield label, {"tool": "write_file", "args": {"path": "notes/out.md", "content": text}}
            else:
                yield label, {"tool": row.tool, "args": dict(row.args)}


def _case_items(value: Any) -> Iterator[Any]:
    """Calls in one case-list entry: an action dict, a ``(tool, args)`` pair, or command lines (strings)."""
    if isinstance(value, dict) and isinstance(value.get("tool"), str):
        yield {"tool": value["tool"], "args": value.get("args") or {}}
    elif isinstance(value, tuple) and len(value) >= 2 and isinstance(value[0], str) and isinstance(value[1], dict):
        yield {"tool": value[0], "args": value[1]}
    elif isinstance(value, str) and value.strip():
        yield {"tool": "run_shell", "args": {"command": value}}
        yield {"tool": "write_file", "args": {"path": "notes/case.md", "content": value}}
    elif isinstance(value, tuple | list):
        for part in value:
            if isinstance(part, str | dict | tuple):
                yield from _case_items(part)


def _cases() -> Iterator[tuple[str, Any]]:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    for rel in CASE_MODULES:
        spec = importlib.util.spec_from_file_location(f"_equivalence_cases_{Path(rel).stem}", TESTS / rel)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, list | tuple):
                for i, entry in enumerate(value):
                    for j, action in enumerate(_case_items(entry)):
                        yield f"{rel}:{name}[{i}].{j}", action


def _bench() -> Iterator[tuple[str, Any]]:
    for i, action in enumerate(MIX):
        yield f"mix[{i}]", action
    for kind in ("benign", "adversarial", *FAMILIES, "long_url"):
        for size in (64, 4096):
            args = {"path": "notes.txt", **_sized_args(kind, size)}
            yield f"family:{kind}:{size}", {"tool": "write_file", "args": args}


@functools.cache
def _sources() -> dict[str, list[tuple[str, Any]]]:
    """Every labelled call, by source, loaded once for both profiles."""
    return {
        "shipped": list(_shipped()),
        "generated": list(_frames()),
        "cases": list(_cases()),
        "bench": list(_bench()),
    }


def _summary(verdict: Any) -> tuple[Any, ...]:
    return (
        verdict.allowed,
        verdict.decision,
        verdict.rule,
        verdict.confidence,
        tuple((v.policy, v.reason, v.severity, v.evidence) for v in verdict.violations),
    )


def _judge(verifier: Verifier, action: Any) -> tuple[Any, ...] | str:
    try:
        return _summary(verifier.verify(action))
    except InvalidAction as exc:
        return f"InvalidAction: {exc}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("profile", ["workspace", "admin"])
def test_fast_paths_decide_like_the_full_analysis_on_every_dataset(profile: str) -> None:
    full = Verifier(workspace="/workspace/project", rate_limit=False, profile=profile, cache=False)
    fast = Verifier(workspace="/workspace/project", rate_limit=False, profile=profile)
    sources = _sources()
    counts = {source: len(items) for source, items in sources.items()}
    mismatches: list[str] = []
    for source, items in sources.items():
        if profile == "admin" and source == "generated":
            continue  # application calls and documents: the profile changes nothing a check reads in them
        for label, action in items:
            want = _judge(full, action)
            for attempt in ("first", "repeated"):
                got = _judge(fast, action)
                if got != want and len(mismatches) < 20:
                    mismatches.append(f"{label} ({attempt}): fast {got!r} != full {want!r}")
    assert not mismatches, "\n".join(mismatches)
    # every source contributed (a loader returning nothing would make this test vacuous)
    assert counts["shipped"] >= 1000 and counts["generated"] >= 2000, counts
    assert counts["cases"] >= 500 and counts["bench"] >= 60, counts
    assert fast.verdict_cache is not None and fast.verdict_cache.stats()["hits"] > 0
