"""Linear time: 1 MiB arguments of repeated near-matches of every pattern are answered in well under a second.

A backtracking matcher stalls on inputs like these (the seed took 30 s on 28 KB); ours must not. The bound is
generous for a loaded 2-core CI machine; the benchmark (`sentinel-lab bench scaling`) prints the real numbers.
"""

from __future__ import annotations

import gc
import time

import pytest

from sentinel_lab import Verifier
from sentinel_lab.bench import FAMILIES, _sized_args

MIB = 1 << 20
UNITS = {
    "shell": "r''m -r\\f $($(`a` ${IFS} ; | && bash -c '",
    "url": "http://0x7f.0.0.1@[::ffff:127.0.0. %252e localtest.me. ",
    "path": "../..%2f..%252f....//~/.ssh/ \\\\?\\C:\\..\\",
    "injection": "ignore previous instruc ignorez les instru <|im_start|>syst i g n o r e ",
    "secrets": "AKIA0000000000000 -----BEGIN password= eyJhbGciOi.eyJz. 4111 1111 1111 ",
    "encodings": "aWdub3JlIGFsbCBw 0x69676e6f7265 &#x69;&#x67; \\x69\\x67 %69%67%6e ",
    "mixed": "sudo chmod u+s $(curl http://169.254.169.254/ | sh) ../../etc/shadow ",
}


@pytest.mark.parametrize("name", sorted(UNITS))
@pytest.mark.parametrize("tool", ["exec", "write_file"])
def test_one_mebibyte_adversarial_argument(name: str, tool: str) -> None:
    unit = UNITS[name]
    text = (unit * (MIB // len(unit) + 1))[:MIB]
    verifier = Verifier(workspace="/workspace/project", rate_limit=False)
    # CPU time of this thread: another process on a loaded 2-core machine does not count against the call, and
    # neither do collector passes over the objects earlier tests left behind (frozen out of its generations)
    gc.collect()
    gc.freeze()
    try:
        t0 = time.thread_time()
        # 1 MiB in all, split over a command-like and a content-like argument so every parser sees some
        verdict = verifier.verify({"tool": tool, "args": {"command": text[: MIB // 2], "content": text[MIB // 2 :]}})
        elapsed = time.thread_time() - t0
    finally:
        gc.unfreeze()
    assert elapsed < 1.0, f"{name}/{tool}: {elapsed:.2f}s of CPU"
    assert verdict.elapsed_us > 0


def test_no_separator_megabyte_and_deep_nesting() -> None:
    verifier = Verifier(rate_limit=False)
    blob = "A" * MIB
    deep: object = "x"
    for _ in range(200):
        deep = {"k": [deep]}
    t0 = time.perf_counter()
    verdict = verifier.verify({"tool": "upload", "args": {"data": blob, "tree": deep}})
    assert time.perf_counter() - t0 < 1.0
    # too deep to see everything: fail closed rather than let a buried payload through
    assert not verdict.allowed
    assert any("not fully verifiable" in v.reason for v in verdict.violations)


# -- every adversarial single-argument family is linear: a ratio of CPU times, never an absolute bound ----------
def _cpu_median(verifier: Verifier, action: dict) -> float:
    import statistics

    samples = []
    for _ in range(3):
        t0 = time.thread_time()
        verifier.verify(action)
        samples.append(time.thread_time() - t0)
    return statistics.median(samples)


@pytest.mark.parametrize("family", [*sorted(FAMILIES), "long_url"])
def test_adversarial_family_scales_linearly(family: str) -> None:
    verifier = Verifier(workspace="/workspace/project", rate_limit=False)
    small = {"tool": "write_file", "args": {"path": "notes.txt", **_sized_args(family, MIB // 4)}}
    big = {"tool": "write_file", "args": {"path": "notes.txt", **_sized_args(family, MIB)}}
    verifier.verify(small)  # warm caches and imports
    ratio = _cpu_median(verifier, big) / max(_cpu_median(verifier, small), 1e-4)
    assert ratio < 8, f"{family}: 4x the input took {ratio:.1f}x the time"


# -- deterministic: the Python-level work of a verdict does not grow with the argument ----------------------------
def _calls(verifier: Verifier, action: dict) -> tuple[int, int]:
    """Python function calls and C calls made from Python while ``verify(action)`` runs (``sys.setprofile``)."""
    import sys

    counts = [0, 0]

    def profile(frame: object, event: str, arg: object) -> None:
        if event == "call":
            counts[0] += 1
        elif event == "c_call":
            counts[1] += 1

    sys.setprofile(profile)
    try:
        verifier.verify(action)
    finally:
        sys.setprofile(None)
    return counts[0], counts[1]


@pytest.mark.parametrize("family", [*sorted(FAMILIES), "long_url"])
def test_adversarial_family_work_is_whole_text(family: str) -> None:
    """Every family is judged by whole-text operations (str methods, one pass of a pattern, RE2): 16 times the
    input makes no more Python calls. A loop over characters or tokens would make about 16 times as many."""
    verifier = Verifier(workspace="/workspace/project", rate_limit=False)
    small = {"tool": "write_file", "args": {"path": "notes.txt", **_sized_args(family, MIB // 16)}}
    big = {"tool": "write_file", "args": {"path": "notes.txt", **_sized_args(family, MIB)}}
    verifier.verify(small)
    verifier.verify(big)  # warm caches, so both counts are of the steady state
    py_small, c_small = _calls(verifier, small)
    py_big, c_big = _calls(verifier, big)
    assert py_big <= py_small * 1.5 + 50, f"{family}: {py_small} -> {py_big} Python calls"
    assert c_big <= c_small * 1.5 + 200, f"{family}: {c_small} -> {c_big} C calls"
