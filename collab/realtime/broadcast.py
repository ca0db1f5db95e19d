"""The one way the server talks to sockets.

A service calls `broadcast_on_commit(room, event, data)`; nothing leaves before the
surrounding transaction commits, and a rollback sends nothing. The frame is encoded
once here and the same text goes to every socket in the room.

Control messages (`sockets_control_on_commit`) move the sockets of a room in or out of
other rooms, or close them, e.g. when a user is enrolled, leaves a group or logs out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from collab.core.jsonframes import dumps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Broadcast:
    room: str
    event: str
    data: Any


# Test helpers register here to see what was sent (collab.realtime.testing).
_listeners: list[Callable[[Broadcast], None]] = []


def encode_frame(room: str, event: str, data: Any) -> str:
    return dumps({"event": event, "room": room, "data": data})


def _frame_message(room: str, event: str, data: Any, exclude_channel: str | None) -> dict:
    # "room": a socket that only listens to the room (CollabConsumer.listen) drops it.
    message = {"type": "room.frame", "room": room, "text": encode_frame(room, event, data)}
    if exclude_channel:
        message["exclude"] = exclude_channel
    return message


def _notify(room: str, event: str, data: Any) -> None:
    for listener in list(_listeners):
        listener(Broadcast(room, event, data))


def _group_send_sync(room: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(room, message)
    except Exception:
        # The change is committed; a lost frame must not turn it into a 500.
        log.exception("broadcast to %s failed", room)


def broadcast_on_commit(room: str, event: str, data: Any) -> None:
    """Send `event` to every socket in `room` once the current transaction commits."""

    def send() -> None:
        _notify(room, event, data)
        _group_send_sync(room, _frame_message(room, event, data, None))

    transaction.on_commit(send, robust=True)


async def broadcast_now(room: str, event: str, data: Any, *, exclude_channel: str | None = None) -> None:
    """For socket-born events that change no row (typing): no transaction to wait for.
    `exclude_channel` keeps the sender from hearing its own event."""
    _notify(room, event, data)
    await get_channel_layer().group_send(room, _frame_message(room, event, data, exclude_channel))


def control_message(
    *,
    join: Iterable[str] = (),
    leave: Iterable[str] = (),
    close: bool = False,
    frame: tuple[str, str, Any] | None = None,
) -> dict:
    message: dict[str, Any] = {"type": "room.control", "join": list(join), "leave": list(leave), "close": close}
    if frame is not None:
        message["text"] = encode_frame(*frame)
    return message


def sockets_control_on_commit(
    room: str,
    *,
    join: Iterable[str] = (),
    leave: Iterable[str] = (),
    close: bool = False,
    event: str | None = None,
    data: Any = None,
) -> None:
    """After commit, every socket in `room` joins `join`, leaves `leave`, then receives
    `event` (if given) and is closed if `close`. The event is sent after the room moves so
    a socket that just joined a room hears about it before anything sent to that room."""
    join, leave = list(join), list(leave)
    frame = (room, event, data) if event else None
    message = control_message(join=join, leave=leave, close=close, frame=frame)

    def send() -> None:
        if event:
            _notify(room, event, data)
        _group_send_sync(room, message)

    transaction.on_commit(send, robust=True)
