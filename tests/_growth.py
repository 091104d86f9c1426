"""Linear-time checks with no wall-clock bound: how CPU time grows between two input sizes.

Absolute times depend on the machine and on what else runs on it; a growth ratio does not. Quadrupling a linear
workload costs about 4 times the CPU, a quadratic one 16 times. ``time.thread_time`` counts only this thread's CPU,
so another busy process on the machine does not inflate it; the smaller of two runs per size drops one-off pauses,
and the objects earlier tests left behind are frozen out of the collector, so a full collection over them cannot
land in one measured run.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

FACTOR = 4
#: Linear work measures about FACTOR; quadratic FACTOR**2. The bound sits well between the two.
BOUND = FACTOR * 3.0


def cpu_seconds(work: Callable[[], object], repeats: int = 2) -> float:
    """The least thread CPU time of ``repeats`` runs of ``work``."""
    best = float("inf")
    gc.collect()
    gc.freeze()
    try:
        for _ in range(repeats):
            t0 = time.thread_time()
            work()
            best = min(best, time.thread_time() - t0)
    finally:
        gc.unfreeze()
    return best


def growth(run: Callable[[str], object], payload: str) -> float:
    """CPU time of ``run`` on all of ``payload`` over its time on the first quarter (each input made unique)."""
    quarter = payload[: len(payload) // FACTOR]
    counter = iter(range(1_000_000))

    def fresh(text: str) -> Callable[[], object]:
        return lambda: run(f"{next(counter)} {text}")  # a new string every run, so no cache answers for the work

    small = cpu_seconds(fresh(quarter))
    large = cpu_seconds(fresh(payload))
    return large / max(small, 1e-3)


def assert_linear(run: Callable[[str], object], payload: str) -> None:
    """Fail when ``run`` grows faster than linearly in the length of ``payload``."""
    ratio = growth(run, payload)
    assert ratio < BOUND, f"CPU time grew {ratio:.1f}x for {FACTOR}x the input ({payload[:24]!r}...)"
