"""The seed verifier's Node runner: a real Node process, installed with npm into a cache folder, answering
one verdict per call with its own timing; a missing Node or package is a clear ``SeedUnavailable``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _seed_standin import make_standin

from sentinel_lab._bench_seed import SEED_SPEC, SeedRunner, SeedUnavailable, install_seed, seed_prefix
from sentinel_lab.bench import MIX, verify_against_seed

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node and npm are not installed"
)


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SENTINEL_LAB_CACHE", str(tmp_path / "cache"))
    return install_seed(str(make_standin(tmp_path / "standin")))


def _assert_shape(verdict: dict[str, object]) -> None:
    assert set(verdict) == {"allowed", "confidence", "violations", "intent"}
    assert isinstance(verdict["allowed"], bool) and isinstance(verdict["confidence"], (int, float))
    assert isinstance(verdict["violations"], list)
    for v in verdict["violations"]:
        assert isinstance(v, dict) and set(v) == {"policy", "reason", "severity"}


@needs_node
def test_install_goes_into_the_cache_folder_once(tmp_path: Path, standin: Path) -> None:
    assert standin == seed_prefix(str(tmp_path / "standin"))
    assert standin.is_relative_to(tmp_path / "cache")
    assert (standin / "node_modules" / "mikoshi-sentinel" / "package.json").is_file()
    assert install_seed(str(tmp_path / "standin")) == standin  # already there: no second npm run


@needs_node
def test_the_runner_answers_each_call_with_a_verdict_and_its_own_time(standin: Path) -> None:
    with SeedRunner(standin) as runner:
        assert runner.node_version.startswith("v")
        answers = [runner.verify({"tool": a["tool"], "args": a["args"]}) for a in MIX[:12]]
        answers.append(runner.verify({"tool": "exec", "args": {"command": "rm -rf / --no-preserve-root"}}))
    for us, verdict in answers:
        assert us > 0
        _assert_shape(verdict)
    # twelve benign calls in a row pass: the stand-in's limiter (5 calls) is emptied before every call
    assert [v["allowed"] for _, v in answers[:12]] == [True] * 12
    assert answers[-1][1]["allowed"] is False
    assert answers[-1][1]["violations"][0]["policy"] == "systemCommands"


@needs_node
def test_same_work_turns_the_seed_intent_verifier_off(standin: Path) -> None:
    call = {"tool": "read_file", "args": {"path": "src/main.py"}}
    with SeedRunner(standin) as runner:
        assert runner.verify(call, mode="same_work")[1]["intent"] is None
        assert runner.verify(call, mode="defaults")[1]["intent"]["method"] == "heuristic"
        with pytest.raises(ValueError):
            runner.verify(call, mode="hot")


@needs_node
def test_a_package_without_a_sentinel_class_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_LAB_CACHE", str(tmp_path / "cache"))
    folder = make_standin(tmp_path / "broken")
    (folder / "index.js").write_text("export const nothing = 1;\n")
    with pytest.raises(SeedUnavailable, match="exports no Sentinel class"):
        SeedRunner(install_seed(str(folder)))


def test_no_node_on_path_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SeedUnavailable, match="'node' was not found on PATH"):
        install_seed()


@needs_node
def test_side_by_side_run_reports_both_sides_hot_and_cold(standin: Path) -> None:
    with SeedRunner(standin) as runner:
        result = verify_against_seed(calls=12, warmup=3, runner=runner)
    assert result["mix_blocked"]["ours"] > 0 and result["mix_blocked"]["same_work"] == 1  # the one rm -rf /
    for temperature in ("hot", "cold"):
        run = result["runs"][temperature]
        for side in ("ours", "same_work", "defaults"):
            assert run[side]["n"] == 12 and run[side]["p50"] > 0
        assert run["ratio_same_work_p50"] == pytest.approx(run["ours"]["p50"] / run["same_work"]["p50"])
    assert [t["name"].split(":")[0] for t in result["targets"]] == ["hot", "hot", "cold", "cold"]
    assert all(isinstance(t["met"], bool) for t in result["targets"])
    assert result["machine"]["node"].startswith("v") and result["caches_cleared_cold"] > 0


@needs_node
def test_the_published_seed_package_when_the_registry_has_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_LAB_CACHE", str(tmp_path / "cache"))
    try:
        prefix = install_seed(SEED_SPEC)
    except SeedUnavailable as exc:
        assert "npm could not install" in str(exc) or "took longer" in str(exc)
        pytest.skip(f"the registry does not serve {SEED_SPEC} here: {exc}")
    with SeedRunner(prefix) as runner:
        us, verdict = runner.verify({"tool": "exec", "args": {"command": "rm -rf /"}})
    _assert_shape(verdict)
    assert us > 0 and verdict["allowed"] is False
