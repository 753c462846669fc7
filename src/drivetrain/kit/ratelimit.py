"""A sliding-window rate limiter held in memory, for public forms that anyone can post to.

Time is passed in (from ``kit.clock``), so tests move time instead of sleeping. Counts live in one
process: behind several ``serve`` processes each keeps its own, which is enough to slow down a
script filling a form; it is not a quota.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta


class SlidingWindowLimiter:
    """At most ``limit`` allowed calls per key within any ``window``; refused calls are not counted.

    Memory stays bounded: a key whose calls have all left the window is dropped, and past
    ``max_keys`` keys the one allowed longest ago is forgotten (it starts afresh: under a flood of
    distinct keys the limiter fails open rather than grow without bound).
    """

    def __init__(self, limit: int, window: timedelta, *, max_keys: int = 100_000) -> None:
        if limit < 1 or window <= timedelta(0) or max_keys < 1:
            raise ValueError("limit and max_keys must be at least 1 and window positive")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._lock = threading.Lock()
        # key -> times of its allowed calls, oldest first; keys ordered by their latest allowed call
        self._calls: OrderedDict[str, deque[datetime]] = OrderedDict()

    def allow(self, key: str, now: datetime) -> bool:
        """Count a call by ``key`` at ``now`` if the window has room; say whether it was allowed."""
        with self._lock:
            self._forget_idle(now)
            calls = self._recent(key, now)
            if len(calls) >= self.limit:
                return False
            calls.append(now)
            self._calls[key] = calls
            self._calls.move_to_end(key)
            while len(self._calls) > self.max_keys:
                self._calls.popitem(last=False)
            return True

    def retry_after(self, key: str, now: datetime) -> timedelta:
        """How long until ``key`` may call again (zero when it may now), for a Retry-After answer."""
        with self._lock:
            calls = self._recent(key, now)
            if len(calls) < self.limit:
                return timedelta(0)
            return calls[0] + self.window - now

    @property
    def key_count(self) -> int:
        """Keys currently held, to watch that memory stays bounded."""
        with self._lock:
            return len(self._calls)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        """The key's calls still inside the window ending at ``now``; drops the key when none are."""
        calls = self._calls.get(key, deque())
        start = now - self.window
        while calls and calls[0] <= start:
            calls.popleft()
        if not calls:
            self._calls.pop(key, None)
        return calls

    def _forget_idle(self, now: datetime) -> None:
        """Drop keys whose latest call has left the window; they sit at the front, so this is cheap."""
        start = now - self.window
        while self._calls:
            key, calls = next(iter(self._calls.items()))
            if calls[-1] > start:
                return
            del self._calls[key]
