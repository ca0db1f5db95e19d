"""Per-socket flood control: a token bucket refuses frames over the rate, and a socket
whose refusals dominate its recent traffic is ended.

The old rule closed a socket after N refusals *in a row*; any accepted frame reset the
count, and since the bucket refills continuously a flood always got a frame through now
and then: 1,000 frames/s were answered with thousands of `rate_limited` errors and
never closed. Here refusals are counted over a sliding window instead: a socket with at
least SOCKET_ABUSE_LIMIT refused frames in the last SOCKET_ABUSE_WINDOW seconds, more
than half of all its frames in that window, is abusive. A client briefly over its burst
(a reconnecting app replaying a few frames) gets some `rate_limited` errors and stays.
"""

from __future__ import annotations

import time


class TokenBucket:
    """Allows `rate` frames a second on average and bursts up to `burst`."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class FloodGuard:
    """The rate of one socket and its abuse verdict. Counts live in one-second slots
    (at most `window` of them), so memory and time per frame are constant."""

    __slots__ = ("accepted", "bucket", "limit", "refused", "slots", "window")

    def __init__(self, *, rate: float, burst: int, limit: int, window: int):
        self.bucket = TokenBucket(rate, burst)
        self.limit, self.window = limit, max(int(window), 1)
        # [second, accepted, refused], at most `window` of them: a list, not a deque
        # (an empty deque holds a 64-slot block, 760 bytes on every idle socket).
        self.slots: list[list[int]] = []
        self.accepted = self.refused = 0

    def _slot(self) -> list[int]:
        second = int(time.monotonic())
        while self.slots and self.slots[0][0] <= second - self.window:
            _, accepted, refused = self.slots.pop(0)
            self.accepted -= accepted
            self.refused -= refused
        if not self.slots or self.slots[-1][0] != second:
            self.slots.append([second, 0, 0])
        return self.slots[-1]

    def admit(self) -> bool:
        """Takes a frame through the rate limit; False means refuse it (rate_limited)."""
        if self.bucket.take():
            self._slot()[1] += 1
            self.accepted += 1
            return True
        self.refuse()
        return False

    def refuse(self) -> None:
        """Counts a frame refused for another reason (too large, binary)."""
        self._slot()[2] += 1
        self.refused += 1

    @property
    def abusive(self) -> bool:
        self._slot()
        return self.refused >= self.limit and self.refused * 2 > self.refused + self.accepted
