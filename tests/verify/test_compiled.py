"""A compiled core (a wheel built with ``SENTINEL_LAB_COMPILE=1``) decides exactly like the pure-Python sources.

``SENTINEL_LAB_EXPECT_COMPILED=1`` (or ``0``) makes the first test assert which one is installed, so a build that
fell back to pure Python fails CI. The second runs only against a compiled core: every call of the fast-path
equivalence corpus is judged here and, in a subprocess importing this checkout's sources, in pure Python; the
decision, rule, confidence and every violation must be identical (``.ci/run`` runs both against a compiled wheel).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import sentinel_lab
from sentinel_lab import Verifier

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENCE = Path(__file__).resolve().with_name("test_fast_path_equivalence.py")


def _compiled_modules() -> list[str]:
    """The dotted names of the modules ``hatch_build.COMPILED`` lists (read from the file, not imported)."""
    tree = ast.parse((ROOT / "hatch_build.py").read_text(encoding="utf-8"))
    paths: tuple[str, ...] = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in node.targets)
    )
    files: list[Path] = []
    for rel in paths:
        path = ROOT / rel
        files += sorted(path.glob("*.py")) if path.is_dir() else [path]
    names = [".".join(f.relative_to(ROOT).with_suffix("").parts) for f in files]
    return [n.removesuffix(".__init__") for n in names]


def _equivalence() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_compiled_equivalence", EQUIVALENCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verdicts() -> list[list[Any]]:
    """``[profile, label, verdict summary]`` for every call of the equivalence corpus, as JSON values (the
    ``admin`` profile on the shipped sets, the case lists and the mix, as in the equivalence test)."""
    eq = _equivalence()
    out: list[list[Any]] = []
    for profile in ("workspace", "admin"):
        verifier = Verifier(workspace="/workspace/project", rate_limit=False, profile=profile, cache=False)
        for source, items in eq._sources().items():
            if profile == "admin" and source == "generated":
                continue
            out += [[profile, label, eq._judge(verifier, action)] for label, action in items]
    result: list[list[Any]] = json.loads(json.dumps(out))
    return result


def test_the_core_is_compiled_all_or_nothing_and_as_expected() -> None:
    modules = _compiled_modules()
    assert "sentinel_lab._verify.verifier" in modules and len(modules) > 20
    state = {m: (importlib.import_module(m).__file__ or "").endswith(tuple(EXTENSION_SUFFIXES)) for m in modules}
    assert set(state.values()) == {sentinel_lab.compiled()}, state
    expected = os.environ.get("SENTINEL_LAB_EXPECT_COMPILED")
    if expected is not None:
        assert sentinel_lab.compiled() is (expected == "1"), sentinel_lab.__file__


@pytest.mark.timeout(1200)
def test_the_compiled_core_decides_like_the_sources(tmp_path: Path) -> None:
    if not sentinel_lab.compiled():
        pytest.skip("the core runs as pure Python here: nothing compiled to compare")
    pure = tmp_path / "pure.json"
    script = (
        "import importlib.util, json, sys\n"
        "import sentinel_lab\n"
        "assert not sentinel_lab.compiled(), sentinel_lab.__file__\n"
        "spec = importlib.util.spec_from_file_location('_compiled_check', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "with open(sys.argv[2], 'w', encoding='utf-8') as fh:\n"
        "    json.dump(module.verdicts(), fh)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", script, __file__, str(pure)], check=True, env=env, cwd=tmp_path)
    want = json.loads(pure.read_text(encoding="utf-8"))
    got = verdicts()
    assert len(got) == len(want) > 3000
    mismatches = [
        f"{g[0]} {g[1]}: compiled {g[2]!r} != pure {w[2]!r}" for g, w in zip(got, want, strict=True) if g != w
    ]
    assert not mismatches, "\n".join(mismatches[:20])
