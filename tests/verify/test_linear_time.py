"""Linear time: 1 MiB arguments of repeated near-matches of every pattern cost CPU in proportion to their size.

A backtracking matcher stalls on inputs like these (the seed took 30 s on 28 KB); ours must not. The tests compare
CPU time between input sizes (``tests/_growth.py``) or count calls, never against a clock: the benchmark
(``sentinel-lab bench scaling``) prints the real numbers.
"""

from __future__ import annotations

import gc
import itertools

import pytest
from _growth import BOUND, FACTOR, assert_linear, cpu_seconds

from sentinel_lab import Verifier
from sentinel_lab.bench import FAMILIES, SHUFFLED, _sized_args

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

    def run(payload: str) -> object:
        # split over a command-like and a content-like argument so every parser sees some
        half = len(payload) // 2
        return verifier.verify({"tool": tool, "args": {"command": payload[:half], "content": payload[half:]}})

    # collector passes over the objects earlier tests left behind are frozen out of the measurement
    gc.collect()
    gc.freeze()
    try:
        assert_linear(run, text)
    finally:
        gc.unfreeze()


def test_no_separator_megabyte_and_deep_nesting() -> None:
    verifier = Verifier(rate_limit=False)
    blob = "A" * MIB
    deep: object = "x"
    for _ in range(200):
        deep = {"k": [deep]}
    verdict = verifier.verify({"tool": "upload", "args": {"data": blob, "tree": deep}})
    # too deep to see everything: fail closed rather than let a buried payload through
    assert not verdict.allowed
    assert any("not fully verifiable" in v.reason for v in verdict.violations)


# -- every adversarial single-argument family is linear: a ratio of CPU times, never an absolute bound ----------
@pytest.mark.parametrize("family", [*sorted(FAMILIES), *sorted(SHUFFLED), "long_url"])
def test_adversarial_family_scales_linearly(family: str) -> None:
    verifier = Verifier(workspace="/workspace/project", rate_limit=False)
    salt = itertools.count()

    def verify_fresh(size: int) -> object:  # a new argument each run, so no cache answers for the work
        args = {key: f"{next(salt)} {value}" for key, value in _sized_args(family, size).items()}
        return verifier.verify({"tool": "write_file", "args": {"path": "notes.txt", **args}})

    verify_fresh(MIB // FACTOR)  # warm imports
    ratio = cpu_seconds(lambda: verify_fresh(MIB)) / max(cpu_seconds(lambda: verify_fresh(MIB // FACTOR)), 1e-3)
    assert ratio < BOUND, f"{family}: {FACTOR}x the input took {ratio:.1f}x the CPU time"


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
