"""The one way the server talks to sockets.

A service calls `broadcast_on_commit(room, event, data)`; nothing leaves before the
surrounding transaction commits, and a rollback sends nothing. The frame is encoded
once here and the same text goes to every socket in the room.

History frames (the default) go through the outbox (collab.realtime.outbox): written in
the same transaction with the room's next `seq` and an `id`, sent on commit, re-sent by
the relay if that send failed, replayed to a socket that `resume`s. State frames
(`history=False`: presence) and socket-born frames (`broadcast_now`: typing, who has the
room open) carry no seq and are sent at most once.

Control messages (`sockets_control_on_commit`) move the sockets of a room in or out of
other rooms, or close them, e.g. when a user is enrolled, leaves a group or logs out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
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
    """The text of a frame without seq, once per broadcast (history frames are encoded by
    the outbox, with their `seq` and `id`)."""
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


def _group_send_sync(room: str, message: dict) -> bool:
    return _group_send_all_sync([(room, message)])[0]


async def _group_send_all(messages: list[tuple[str, dict]]) -> list[bool]:
    layer = get_channel_layer()
    sent = []
    for room, message in messages:
        try:
            await layer.group_send(room, message)
            sent.append(True)
        except Exception as exc:
            # The change is committed; a lost frame must not turn it into a 500. The outbox
            # row stays unsent and the relay sends it once the channel layer is back.
            log.warning("broadcast to %s failed (%s); the relay will re-send it", room, exc)
            sent.append(False)
    return sent


def _group_send_all_sync(messages: list[tuple[str, dict]]) -> list[bool]:
    """Sends `messages` in order from sync code, in one trip to the event loop: a worker
    thread waits for a busy loop on every trip (a class-start storm's batch of joins made
    two trips per join, docs/performance.md S12). One bool per message: sent or not."""
    try:
        return async_to_sync(_group_send_all)(messages)
    except Exception as exc:
        log.warning("broadcast of %d messages failed (%s); the relay will re-send them", len(messages), exc)
        return [False] * len(messages)


def _record(
    room: str,
    event: str | None,
    data: Any,
    message: dict,
    history: bool,
    joins: tuple[str, ...] = (),
    on_joined: Callable[[dict[str, int]], None] | None = None,
):
    from collab.realtime import outbox

    record = partial(outbox.outbox_record, room=room, event=event, data=data, message=message, history=history)
    if transaction.get_connection().in_atomic_block:
        return record(joins=joins, on_joined=on_joined)
    with transaction.atomic():
        return record(joins=joins, on_joined=on_joined)


def send_recorded(recorded: list[tuple[Any, Any]]) -> None:
    """After commit: sends written outbox frames (`[(OutboxFrame, data)]`, `data` the
    payload for the test listeners) in order in one trip to the event loop, then marks
    each sent, or leaves it unsent for the relay when the channel layer failed (counted
    by a DeliveryTracker). Never raises for a failed send."""
    from collab.realtime import outbox

    frames = [frame for frame, _ in recorded]
    if any(not frame.written for frame in frames):
        # Only when a test runs on-commit callbacks without a COMMIT (see write_queued).
        outbox.write_queued()
    for frame, data in recorded:
        if frame.event:
            _notify(frame.room, frame.event, data)
    delay = getattr(settings, "OUTBOX_SEND_DELAY", 0)
    if delay and any(frame.event == getattr(settings, "OUTBOX_SEND_DELAY_EVENT", "") for frame in frames):
        time.sleep(delay)  # test-only fault injection (collab/settings_test.py)
    sent = _group_send_all_sync([(frame.room, frame.message) for frame in frames])
    for frame, ok in zip(frames, sent, strict=True):
        outbox.note_delivery(ok)
        if ok:
            try:
                outbox.mark_sent(frame.pos)
            except Exception:
                log.exception("could not mark outbox row %s sent (the relay re-sends it)", frame.pos)


def _record_and_send_on_commit(
    room: str,
    event: str | None,
    data: Any,
    message: dict,
    history: bool,
    joins: tuple[str, ...] = (),
    on_joined: Callable[[dict[str, int]], None] | None = None,
) -> None:
    frame = _record(room, event, data, message, history, joins, on_joined)
    transaction.on_commit(partial(send_recorded, [(frame, data)]), robust=True)


def broadcast_on_commit(room: str, event: str, data: Any, *, history: bool = True) -> None:
    """Send `event` to every socket in `room` once the current transaction commits.

    `history=True` (default): the frame carries the room's next `seq` and an `id`, is
    stored in the outbox in this transaction and replayed to sockets that resume.
    `history=False`: state (presence), sent after commit without seq, not stored."""
    if not history:

        def send_state() -> None:
            _notify(room, event, data)
            _group_send_sync(room, _frame_message(room, event, data, None))

        transaction.on_commit(send_state, robust=True)
        return
    _record_and_send_on_commit(room, event, data, {"type": "room.frame"}, True)


def broadcast_committed(room: str, event: str, data: Any, *, exclude_channel: str | None = None) -> None:
    """A history frame (seq, id, replayed by `resume`) about a change that has already
    committed, for callers that learn only after the commit whether and how to announce
    it (coalesced announcements: liveSessions.announce). Written to the outbox in a
    transaction of its own and sent when that commits. Sync; not inside a transaction.
    `exclude_channel`: that socket does not get it live (it counts as delivered there).
    Weaker than broadcast_on_commit: a process killed between the change's commit and
    this write loses the frame; prefer broadcast_on_commit wherever the frame is known in
    the change's transaction."""
    broadcast_committed_many(room, [(event, data, exclude_channel)])


def broadcast_committed_many(room: str, frames: list[tuple[str, Any, str | None]]) -> None:
    """`broadcast_committed` for several frames of `room`, `[(event, data,
    exclude_channel)]` in order: one outbox transaction, one trip to the event loop."""
    with transaction.atomic():
        recorded = []
        for event, data, exclude_channel in frames:
            message: dict[str, Any] = {"type": "room.frame"}
            if exclude_channel:
                message["exclude"] = exclude_channel
            recorded.append((_record(room, event, data, message, True), data))
        transaction.on_commit(partial(send_recorded, recorded), robust=True)


async def broadcast_now(room: str, event: str, data: Any, *, exclude_channel: str | None = None) -> None:
    """For socket-born events that change no row (typing): no transaction to wait for.
    `exclude_channel` keeps the sender from hearing its own event."""
    _notify(room, event, data)
    await get_channel_layer().group_send(room, _frame_message(room, event, data, exclude_channel))


def broadcast_now_many_sync(frames: list[tuple[str, str, Any, str | None]]) -> None:
    """State frames `[(room, event, data, exclude_channel)]`, no seq, sent in order from
    sync code (after a commit) in one trip to the event loop."""
    for room, event, data, _ in frames:
        _notify(room, event, data)
    _group_send_all_sync([(room, _frame_message(room, event, data, exclude)) for room, event, data, exclude in frames])


def control_message(*, join: Iterable[str] = (), leave: Iterable[str] = (), close: bool = False) -> dict:
    """The channel-layer message of a control: `{"type": "room.control", "join": [room…],
    "leave": [room…], "close": bool}`; the outbox adds `"join_seqs": {room: seq}` for the
    joined rooms when it writes it (collab.realtime.outbox). A message without
    `join_seqs` (written before they existed) is still handled: see room_control."""
    return {"type": "room.control", "join": list(join), "leave": list(leave), "close": close}


def sockets_control_on_commit(
    room: str,
    *,
    join: Iterable[str] = (),
    leave: Iterable[str] = (),
    close: bool = False,
    event: str | None = None,
    data: Any = None,
    on_joined: Callable[[dict[str, int]], None] | None = None,
) -> None:
    """After commit, every socket in `room` joins `join`, leaves `leave`, then receives
    `event` (if given, a history frame of `room` with its seq) and is closed if `close`.
    The event is sent after the room moves so a socket that just joined a room hears
    about it before anything sent to that room. Stored in the outbox like a frame, so a
    failed send is relayed (a control without event carries no seq and is not replayed).

    Each joined room's seq is read (and locked) in this transaction, just before its
    COMMIT, and travels in the message: a joining socket starts from it, so it gets every
    frame of the room committed after the grant, also those sent before the control
    message reached it (read from the outbox), and none committed before.
    `on_joined({room: seq})`: called with those seqs in this transaction, before its
    COMMIT, to persist the grant's point (an enrolment's `admitted_seq`)."""
    join = list(join)
    message = control_message(join=join, leave=leave, close=close)
    _record_and_send_on_commit(room, event, data, message, True, tuple(join), on_joined)


def call_tracking_delivery(service: Callable[..., Any], /, **kwargs: Any) -> tuple[Any, str]:
    """Runs a (sync) service and says whether the frames it broadcast reached the channel
    layer on commit: (result, "sent" | "queued"). "queued": stored, and the relay delivers
    them once Redis is back (socket chat acks carry it as `delivery`)."""
    from collab.realtime.outbox import DeliveryTracker

    with DeliveryTracker() as tracked:
        result = service(**kwargs)
    return result, "queued" if tracked.failed else "sent"
