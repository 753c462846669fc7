"""The sliding-window limiter: exact counts at the window's edges, bounded memory, threads, and a property."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.ratelimit import SlidingWindowLimiter

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def _run(limiter: SlidingWindowLimiter, calls: list[tuple[str, int]]) -> list[bool]:
    """Feed (key, seconds after T0) calls in order; the allow() answers."""
    return [limiter.allow(key, T0 + timedelta(seconds=s)) for key, s in calls]


@pytest.mark.parametrize(
    ("limit", "calls", "expected"),
    [
        pytest.param(2, [("a", 0), ("a", 1), ("a", 2)], [True, True, False], id="third-in-window-refused"),
        pytest.param(2, [("a", 0), ("b", 0), ("a", 1), ("b", 1)], [True] * 4, id="keys-counted-apart"),
        pytest.param(
            1, [("a", 0), ("a", 599), ("a", 600)], [True, False, True], id="window-end-frees-a-slot"
        ),
        pytest.param(
            2,
            [("a", 0), ("a", 300), ("a", 599), ("a", 600), ("a", 601)],
            [True, True, False, True, False],
            id="slides-one-call-at-a-time",
        ),
        pytest.param(
            1,
            [("a", 0), ("a", 100), ("a", 200), ("a", 600)],
            [True, False, False, True],
            id="refused-calls-do-not-extend-the-wait",
        ),
        pytest.param(3, [("a", 0)] * 4, [True, True, True, False], id="same-instant"),
    ],
)
def test_allow(limit: int, calls: list[tuple[str, int]], expected: list[bool]) -> None:
    assert _run(SlidingWindowLimiter(limit, WINDOW), calls) == expected


@pytest.mark.parametrize(
    ("calls", "at", "wait"),
    [
        pytest.param([0], 10, timedelta(0), id="room-left"),
        pytest.param([0, 60], 120, timedelta(seconds=480), id="until-the-oldest-leaves"),
        pytest.param([0, 60, 600], 610, timedelta(seconds=50), id="after-the-window-slid"),
    ],
)
def test_retry_after(calls: list[int], at: int, wait: timedelta) -> None:
    limiter = SlidingWindowLimiter(2, WINDOW)
    _run(limiter, [("a", s) for s in calls])
    assert limiter.retry_after("a", T0 + timedelta(seconds=at)) == wait


def test_idle_keys_are_dropped() -> None:
    limiter = SlidingWindowLimiter(5, WINDOW)
    _run(limiter, [(f"10.0.0.{n}", n) for n in range(50)])
    assert limiter.key_count == 50
    limiter.allow("late", T0 + WINDOW + timedelta(seconds=49))
    assert limiter.key_count == 1


def test_max_keys_forgets_the_longest_idle() -> None:
    limiter = SlidingWindowLimiter(1, WINDOW, max_keys=2)
    _run(limiter, [("a", 0), ("b", 1), ("c", 2)])
    assert limiter.key_count == 2
    assert _run(limiter, [("b", 3), ("c", 3), ("a", 3)]) == [False, False, True]


@pytest.mark.parametrize(
    ("limit", "window", "max_keys"),
    [(0, WINDOW, 1), (1, timedelta(0), 1), (1, WINDOW, 0)],
)
def test_rejects_nonsense_settings(limit: int, window: timedelta, max_keys: int) -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(limit, window, max_keys=max_keys)


def test_threads_never_exceed_the_limit() -> None:
    limiter = SlidingWindowLimiter(7, WINDOW)
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def hammer() -> None:
        start.wait()
        for _ in range(50):
            answer = limiter.allow("shared", T0)
            with lock:
                allowed.append(answer)

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 7


@given(
    limit=st.integers(min_value=1, max_value=5),
    window_s=st.integers(min_value=1, max_value=60),
    calls=st.lists(st.tuples(st.sampled_from("abc"), st.integers(min_value=0, max_value=30)), max_size=80),
)
def test_never_more_than_limit_in_any_window(limit: int, window_s: int, calls: list[tuple[str, int]]) -> None:
    """Whatever the timing, a call is allowed exactly when the window ending at it has room, so no
    window ever holds more than ``limit`` allowed calls of one key."""
    window = timedelta(seconds=window_s)
    limiter = SlidingWindowLimiter(limit, window)
    now = T0
    allowed: dict[str, list[datetime]] = {}
    for key, gap in calls:
        now += timedelta(seconds=gap)
        room = sum(1 for t in allowed.get(key, []) if t > now - window) < limit
        assert limiter.allow(key, now) is room
        if room:
            allowed.setdefault(key, []).append(now)
    for times in allowed.values():
        for t in times:
            assert sum(1 for u in times if t - window < u <= t) <= limit
