"""``sentinel-lab eval``: each dataset's table is followed by its targets; unavailable sets are listed, never dropped;
``--check-targets`` turns a missed target into exit 1. Runs the real CLI in a subprocess on the sample data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "external"
_VARS = ("REDCODE", "ATOMIC_RED_TEAM", "GTFOBINS", "NL2BASH", "TLDR", "BFCL")


def _eval(*argv: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_LAB_") or k == "SENTINEL_LAB_CACHE"}
    env["SENTINEL_LAB_DATA"] = str(data)
    return subprocess.run(
        [sys.executable, "-m", "sentinel_lab._cli", "eval", *argv, "--no-progress"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def test_a_dataset_table_is_followed_by_its_target_with_a_wilson_interval() -> None:
    proc = _eval("nl2bash", data=SAMPLES)
    assert proc.returncode == 0, proc.stderr
    assert "nl2bash (calls, 4 items)" in proc.stdout
    assert "[PASS] nl2bash benign blocked: 0.0% (0/4) [0.0, 49.0], target <= 1.0%" in proc.stdout
    proc = _eval("redcode", "--json", data=SAMPLES)
    row = json.loads(proc.stdout)["dataset_targets"][0]
    assert row["target"] == "redcode attacks blocked" and row["n"] == 4 and row["met"] is None
    assert "could not be measured: run with --against mikoshi" in row["note"]


def test_targets_lists_every_set_and_names_the_variable_of_a_missing_copy(tmp_path: Path) -> None:
    proc = _eval("targets", "--json", data=tmp_path)  # an empty data folder: no external copy anywhere
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for name, var in zip(("redcode", "atomic", "gtfobins", "nl2bash", "tldr", "bfcl"), _VARS, strict=True):
        assert data["results"][name] == {"available": False, "note": data["results"][name]["note"]}
        assert f"not available: set $SENTINEL_LAB_{var}" in data["results"][name]["note"]
    targets = {t["target"]: t for t in data["targets"]}
    pooled = targets["external attacks blocked, pooled"]
    assert pooled["n"] == 0 and pooled["met"] is None and "redcode not available" in pooled["note"]
    assert targets["docs documents flagged (output scanner)"]["n"] > 1000  # built from the installed packages
    injections = targets["agentdojo important_instructions injections flagged"]
    assert injections["n"] > 1000 and injections["count"] == injections["n"]


def test_check_targets_exits_1_exactly_when_a_target_fails() -> None:
    checked = _eval("targets", "--check-targets", data=SAMPLES)
    assert "redcode (4 items)" in checked.stdout and "bfcl (7 items)" in checked.stdout
    assert "external attacks blocked, pooled: " in checked.stdout
    failed = "[FAIL]" in checked.stdout
    assert checked.returncode == (1 if failed else 0), checked.stderr


def test_the_admin_profile_is_named_and_measured_against_its_own_target() -> None:
    proc = _eval("tldr", "--profile", "admin", data=SAMPLES)
    assert proc.returncode == 0, proc.stderr
    assert "with Verifier(workspace='/workspace/project', profile='admin')" in proc.stdout
    assert "tldr benign blocked, admin profile: 0.0% (0/8)" in proc.stdout
    assert "[PASS] tldr benign blocked:" not in proc.stdout  # the workspace target is the default run's
