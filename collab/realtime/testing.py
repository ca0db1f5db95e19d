"""Test helpers for the real-time layer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from collab.realtime import broadcast
from collab.realtime.broadcast import Broadcast


class CapturedBroadcasts(list):
    def events(self, prefix: str = "") -> list[str]:
        """Event names in the order sent; with `prefix`, only those starting with it (a
        test's own events, when a connecting socket's presence frame may land too)."""
        return [item.event for item in self if item.event.startswith(prefix)]

    def to_room(self, room: str) -> list[Broadcast]:
        return [item for item in self if item.room == room]

    def named(self, event: str) -> list[Broadcast]:
        return [item for item in self if item.event == event]


@contextmanager
def capture_broadcasts() -> Iterator[CapturedBroadcasts]:
    """Records every broadcast actually sent (after commit) while the block runs.
    The broadcasts still go out through the real channel layer."""
    captured = CapturedBroadcasts()
    broadcast._listeners.append(captured.append)
    try:
        yield captured
    finally:
        broadcast._listeners.remove(captured.append)
