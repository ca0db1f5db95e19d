"""Coalesced fan-out of presence changes to course rooms.

A storm of connects (a class of 500 joining within seconds) would otherwise send every
member one frame per arriving classmate. Instead each course room gets at most one
presence frame per window (PRESENCE_BROADCAST_WINDOW seconds, default 0.6, so at most
two frames in any second), shared by every process through Redis with the scheme of
collab.realtime.coalesce: presence changes always open a window, so the first change of
a quiet room is sent at once and the ones after it wait for the window's end, one per
user, the latest winning. One waiting change goes out as `presence-changed`, several as
one `presence-batch {users: [...]}`.

A window of 0 turns coalescing off (every change is sent at once).
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.conf import settings

from collab.realtime.broadcast import broadcast_now, broadcast_now_many_sync
from collab.realtime.coalesce import Coalescer
from presence.events import PRESENCE_BATCH, PRESENCE_CHANGED
from presence.snapshots import snapshot_drop_for_room

log = logging.getLogger(__name__)


def window_seconds() -> float:
    return settings.PRESENCE_BROADCAST_WINDOW


def _send(room: str, payloads: list[dict]) -> None:
    """Runs after the commit or in a drain timer thread: there is no transaction left
    to wait for, so it sends at once (broadcast_now, encoded once for the room) and
    never touches the database (a timer thread must not open a connection)."""
    if not payloads:
        return
    # Before the frame: a client that reads the course's presence after receiving it
    # must not be answered from a snapshot that predates it (presence.snapshots).
    snapshot_drop_for_room(room)
    if len(payloads) == 1:
        event, data = PRESENCE_CHANGED, payloads[0]
    else:
        event, data = PRESENCE_BATCH, {"users": payloads}
    try:
        async_to_sync(broadcast_now)(room, event, data)
    except Exception:
        # The change is committed; a lost frame must not break the caller.
        log.exception("presence broadcast to %s failed", room)


_coalescer = Coalescer("presence", window_seconds, _send)


def announce(rooms: list[str], payload: dict) -> None:
    """Sends one user's change (a presence-changed payload with `userId`) to each room,
    coalesced per room. Call after commit."""
    announce_many([(rooms, payload)])


def announce_many(changes: list[tuple[list[str], dict]]) -> None:
    """`announce` for several users' changes `[(rooms, payload)]`, in order: the same
    frames as one call each, with one Redis call per room instead of one per change and
    room (a batch of presence syncs, presence.services.presence_sync_many, announces a
    class's arrivals together: docs/performance.md S13). Call after commit."""
    by_room: dict[str, list[dict]] = {}
    for rooms, payload in changes:
        for room in rooms:
            by_room.setdefault(room, []).append(payload)
    for room, payloads in by_room.items():
        _coalescer.offer_many(
            room,
            [(payload["userId"], payload, True) for payload in payloads],
            # Coalescing is off (window 0) or Redis failed: never lose a change.
            send_singles=lambda indexes, room=room, payloads=payloads: _send_singles(
                room, [payloads[index] for index in indexes]
            ),
        )


def _send_singles(room: str, payloads: list[dict]) -> None:
    """Each payload as its own presence-changed, in order, in one trip to the event loop
    (what `_send` would send one by one)."""
    snapshot_drop_for_room(room)  # before the frames, as in _send
    broadcast_now_many_sync([(room, PRESENCE_CHANGED, payload, None) for payload in payloads])
