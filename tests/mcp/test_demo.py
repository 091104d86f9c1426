"""``sentinel-lab demo`` prints one PASS line per feature, all verified for real, and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sentinel_lab._mcp.demo import demo_policy_path

FEATURES = (
    "HMAC-signed session IDs",
    "Static ALLOW policy",
    "Static DENY policy",
    "Dynamic taint tracking",
    "Data exfiltration prevention",
    "Spotlighting (content)",
    "Spotlighting (structuredContent)",
    "Tool pinning",
    "Audit chain verifies",
    "Tool server killed with the proxy",
)


def test_demo_policy_is_found_and_is_the_repo_copy_in_a_checkout() -> None:
    path = demo_policy_path()
    assert path.is_file() and path.name == "demo.yaml"
    repo = Path(__file__).resolve().parents[2] / "policies" / "demo.yaml"
    assert path.read_text() == repo.read_text()


def test_demo_all_pass(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sentinel_lab._cli", "demo"], capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stdout + out.stderr
    for feature in FEATURES:
        assert any(line.startswith(f"[PASS] {feature}:") for line in lines), (feature, out.stdout)
    assert not any(line.startswith("[FAIL]") for line in lines)
    assert lines[-1] == f"TOTAL: {len(FEATURES)}/{len(FEATURES)}"


def test_demo_fails_loudly_with_a_policy_that_allows_everything(tmp_path: Path) -> None:
    lax = tmp_path / "lax.yaml"
    lax.write_text("default_action: ALLOW\nverifier: {enabled: false}\nproxy: {pin_tools: 'off'}\n")
    out = subprocess.run(
        [sys.executable, "-m", "sentinel_lab._cli", "demo", "--policy", str(lax)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert out.returncode == 1
    failed = [line for line in out.stdout.splitlines() if line.startswith("[FAIL]")]
    names = " ".join(failed)
    for feature in ("Static DENY policy", "Dynamic taint tracking", "Data exfiltration prevention", "Tool pinning"):
        assert feature in names
    assert "[PASS] Tool server killed with the proxy" in out.stdout
