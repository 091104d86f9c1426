"""The seed verifier as an ``evaluate`` defence and as the goal of the external-set targets, run in a real Node
process on a stand-in package with the seed's interface (tests/_seed_standin.py); the CLI's ``--against``."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from _seed_standin import make_standin

from sentinel_lab._bench_seed import SEED_ENV, SEED_SPEC, SeedRunner, install_seed, seed_spec
from sentinel_lab.evaluation import TARGETS, evaluate, seed_defence, target_report

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node and npm are not installed"
)
DATA = Path(__file__).resolve().parents[1] / "data" / "external"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeedRunner]:
    monkeypatch.setenv("SENTINEL_LAB_CACHE", str(tmp_path / "cache"))
    with SeedRunner(install_seed(str(make_standin(tmp_path / "standin")))) as r:
        yield r


def _frame(rows: list[tuple[str, str, dict[str, str]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"id": f"i{n}", "label": label, "category": "c", "tool": "bash", "args": args} for n, (label, _, args) in
         enumerate(rows)]
    )  # fmt: skip


@needs_node
def test_the_seed_judges_each_call_with_its_own_policy_names(runner: SeedRunner) -> None:
    frame = _frame([("attack", "", {"command": "rm -rf / --no-preserve-root"}), ("benign", "", {"command": "ls"})])
    results = evaluate(seed_defence(runner), frame)
    assert results["decision"].tolist() == ["block", "allow"]
    assert results.loc[0, "policy"] == "seed:systemCommands" and results.loc[0, "severity"] == "critical"


@needs_node
def test_a_call_the_seed_fails_on_is_recorded_fail_closed_and_the_run_goes_on(runner: SeedRunner) -> None:
    frame = _frame([("benign", "", {"command": "echo boom"}), ("benign", "", {"command": "ls"})])
    results = evaluate(seed_defence(runner), frame)
    assert results["decision"].tolist() == ["block", "allow"]
    assert results.loc[0, "policy"] == "invalid_action" and "cannot read this call" in results.loc[0, "reason"]


def _labelled(attacks_detected: int, attacks: int) -> pd.DataFrame:
    decisions = ["block"] * attacks_detected + ["allow"] * (attacks - attacks_detected)
    return pd.DataFrame({"label": ["attack"] * attacks, "decision": decisions})


def test_an_external_target_takes_the_seeds_rate_on_the_same_calls_as_its_goal() -> None:
    ours = {"atomic": _labelled(6, 10), "gtfobins": _labelled(3, 10)}
    seed = {"atomic": _labelled(5, 10), "gtfobins": _labelled(4, 10)}
    wanted = [t for t in TARGETS if t.datasets in (("atomic",), ("gtfobins",))]
    rows = target_report(ours, wanted, seed=seed).set_index("datasets")
    assert rows.loc["atomic", "goal"] == pytest.approx(0.5) and bool(rows.loc["atomic", "met"]) is True
    assert rows.loc["gtfobins", "goal"] == pytest.approx(0.4) and bool(rows.loc["gtfobins", "met"]) is False
    assert rows.loc["gtfobins", "seed_count"] == 4 and rows.loc["gtfobins", "seed_n"] == 10
    assert "the seed verifier's rate on the same calls" in rows.loc["atomic", "note"]


def test_without_the_seed_an_external_target_is_reported_and_not_judged() -> None:
    wanted = [t for t in TARGETS if t.datasets == ("atomic",)]
    row = target_report({"atomic": _labelled(6, 10)}, wanted).iloc[0]
    assert math.isnan(row["goal"]) and row["met"] is pd.NA and row["rate"] == pytest.approx(0.6)
    assert "--against mikoshi" in row["note"] and row["seed_n"] == 0


def test_the_seed_package_comes_from_the_environment_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SEED_ENV, raising=False)
    assert seed_spec() == SEED_SPEC
    monkeypatch.setenv(SEED_ENV, "/some/folder")
    assert seed_spec() == "/some/folder"


@needs_node
def test_eval_against_the_seed_prints_both_tables_and_judges_by_the_seeds_rate(tmp_path: Path) -> None:
    env = {**os.environ, "SENTINEL_LAB_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "sentinel_lab._cli", "eval", "gtfobins", "--no-progress", "--against",
               "mikoshi", "--seed-package", str(make_standin(tmp_path / "standin")),
               "--path", str(DATA / "GTFOBins.github.io" / "_gtfobins")]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert "with the seed verifier (mikoshi-sentinel as constructed by default)" in out.stdout
    line = next(ln for ln in out.stdout.splitlines() if "gtfobins attacks blocked:" in ln)
    assert "seed verifier 0.0% (0/" in line and "[PASS]" in line  # the stand-in blocks none of these escapes


@needs_node
def test_eval_against_a_seed_that_cannot_load_exits_2_with_the_reason(tmp_path: Path) -> None:
    folder = make_standin(tmp_path / "broken")
    (folder / "index.js").write_text("export const nothing = 1;\n")
    env = {**os.environ, "SENTINEL_LAB_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "sentinel_lab._cli", "eval", "gtfobins", "--against", "mikoshi",
               "--seed-package", str(folder), "--path", str(DATA / "GTFOBins.github.io" / "_gtfobins")]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 2 and "the seed verifier cannot run" in out.stderr and "no Sentinel class" in out.stderr
