"""The rate limiter's defaults let real hosts' bursts through and stop loops; its state stays bounded."""

from __future__ import annotations

import pytest

from sentinel_lab import Verifier
from sentinel_lab._core.errors import PolicyError
from sentinel_lab._verify.ratelimit import RateLimit, RateLimiter


def _blocked(limiter: RateLimiter, times: list[float], fingerprints: list[int], session: str = "s") -> list[int]:
    """The indexes of the calls refused."""
    return [i for i, (t, f) in enumerate(zip(times, fingerprints, strict=True)) if limiter.hit(session, f, now=t)]


def test_defaults_are_the_documented_ones() -> None:
    assert RateLimit() == RateLimit(max_calls=1000, window=300.0, max_identical=50, identical_window=300.0)


def test_a_burst_of_300_distinct_calls_at_once_passes() -> None:
    # 300 concurrent tools/call from the official client arrive within milliseconds
    assert _blocked(RateLimiter(), [0.001 * i for i in range(300)], list(range(300))) == []


def test_a_burst_of_30_identical_calls_passes() -> None:
    assert _blocked(RateLimiter(), [0.01 * i for i in range(30)], [7] * 30) == []


def test_an_interactive_session_of_an_hour_passes() -> None:
    # several bursts of 300 calls, a minute apart, then 30 identical calls every ten minutes
    times = [60.0 * b + 0.001 * i for b in range(3) for i in range(300)]
    prints = [b * 1000 + i for b in range(3) for i in range(300)]
    times += [600.0 * r + 0.01 * i for r in range(1, 7) for i in range(30)]
    prints += [42] * (6 * 30)
    assert _blocked(RateLimiter(), times, prints) == []


def test_a_machine_speed_identical_loop_is_stopped_at_its_51st_call() -> None:
    blocked = _blocked(RateLimiter(), [0.001 * i for i in range(200)], [1] * 200)
    assert blocked[0] == 50 and blocked == list(range(50, 200))


def test_a_model_paced_identical_loop_is_stopped() -> None:
    # the same call every 3 seconds (a model re-issuing it): refused after 51 calls, i.e. within 2.5 minutes
    blocked = _blocked(RateLimiter(), [3.0 * i for i in range(200)], [1] * 200)
    assert blocked and blocked[0] == 50


def test_a_runaway_loop_of_distinct_calls_is_stopped_at_its_1001st_call() -> None:
    blocked = _blocked(RateLimiter(), [0.01 * i for i in range(1200)], list(range(1200)))
    assert blocked[0] == 1000


def test_the_window_slides() -> None:
    limiter = RateLimiter(RateLimit(max_calls=3, window=10, max_identical=100))
    assert _blocked(limiter, [0, 1, 2, 3], [1, 2, 3, 4]) == [3]
    assert limiter.hit("s", 5, now=11.5) is None  # the calls at 0 and 1 left the window


def test_sessions_are_separate() -> None:
    limiter = RateLimiter(RateLimit(max_identical=2))
    assert _blocked(limiter, [0, 0, 0], [1, 1, 1], session="a") == [2]
    assert _blocked(limiter, [0, 0], [1, 1], session="b") == []


def test_state_is_bounded_by_the_limits_not_by_the_number_of_calls() -> None:
    limit = RateLimit(max_calls=10, max_identical=5, max_sessions=3)
    limiter = RateLimiter(limit)
    for i in range(10_000):
        limiter.hit(f"s{i % 5}", i % 3, now=i * 1e-6)
    assert len(limiter._sessions) == 3
    for window in limiter._sessions.values():
        assert len(window.calls) <= 11 and all(len(d) <= 6 for d in window.same.values())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(PolicyError):
        RateLimit.from_any({"max_calls": 0})
    with pytest.raises(PolicyError):
        RateLimit.from_any({"max_call": 5})


def test_dropping_a_live_session_is_counted_as_an_eviction() -> None:
    limiter = RateLimiter(RateLimit(max_identical=2, max_sessions=2))
    for session in ("a", "b", "c"):  # all within the window: "a" still had history when it was dropped
        limiter.hit(session, 1, now=0.0)
    assert limiter.stats() == {"sessions": 2, "max_sessions": 2, "evicted": 1, "expired": 0}
    # what the eviction cost: "a" repeats its call and is not refused on its third identical call
    assert _blocked(limiter, [1.0, 2.0], [1, 1], session="a") == []


def test_dropping_an_idle_session_loses_nothing_and_is_counted_apart() -> None:
    limiter = RateLimiter(RateLimit(window=10, identical_window=10, max_sessions=2))
    limiter.hit("a", 1, now=0.0)
    limiter.hit("b", 1, now=20.0)
    limiter.hit("c", 1, now=20.0)  # "a" has nothing left in its windows
    assert limiter.stats() == {"sessions": 2, "max_sessions": 2, "evicted": 0, "expired": 1}


def test_a_session_whose_identical_window_is_still_open_counts_as_live() -> None:
    limiter = RateLimiter(RateLimit(window=10, identical_window=100, max_sessions=1))
    limiter.hit("a", 1, now=0.0)
    limiter.hit("b", 1, now=50.0)  # past "a"'s call window but inside its identical window
    assert limiter.stats()["evicted"] == 1


def test_the_verifier_reports_the_limiter_stats() -> None:
    verifier = Verifier(rate_limit={"max_sessions": 1})
    verifier.verify({"tool": "list_dir", "args": {"path": "."}}, {"session_id": "one"})
    verifier.verify({"tool": "list_dir", "args": {"path": "."}}, {"session_id": "two"})
    assert verifier.rate_limit_stats() == {"sessions": 1, "max_sessions": 1, "evicted": 1, "expired": 0}
    assert Verifier(rate_limit=False).rate_limit_stats() is None
