"""The `resume` socket event: after (re)connecting, a client names the rooms it was in
and the last seq it saw in each; it gets everything it missed, in order, once.

    {"event": "resume", "data": {"rooms": {"<room>": <lastSeq>, …}}, "ref": …}

For each room, in the order given:
1. entry: `user-<id>` and `course-<id>` as on connect (the socket is in them already, or
   may not be); every other room through the entry its app registered
   (dispatch.room_entry), which applies the permission of that room's join event and
   enters it. A refusal is `denied` (with the refusal's code); the socket is not in it.
2. replay: the retained frames with seq > lastSeq are sent in order; never one from
   before the user was admitted to the room (a course room joined by enrolment: lastSeq
   is raised to the room's seq at the enrolment's commit, `Enrollment.admitted_seq`,
   through the room's `dispatch.room_floor`). If the outbox no
   longer holds seq lastSeq + 1 (older than retention), or lastSeq is ahead of the room,
   or the client gave the id of its frame lastSeq and ours differs or is gone (a
   database restored or reset: another history), nothing is sent and the room is
   `resync`: the client reloads it over REST and continues from the ack's `seq`.
Live frames of the room that arrive meanwhile are held (collab.realtime.sequencer) and
sent after, so the client sees each seq once, in order. Then the ack
`{"rooms": {"<room>": {"status": "resumed" | "resync" | "denied", "seq": <current> | null}}}`,
and each resumed course room gets its members' current presence (`on_room_resumed` hooks).
"""

from __future__ import annotations

import logging
import uuid

from collab.core.asgi_fast.socket_db import socket_db
from collab.core.errors import DomainError, InvalidInput, is_service_outage
from collab.realtime import dispatch, outbox
from collab.realtime.rooms import user_room

log = logging.getLogger(__name__)

RESUME = "resume"
MAX_ROOMS = 200
RESUMED, RESYNC, DENIED = "resumed", "resync", "denied"


def _seq(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _parse(data: dict) -> dict[str, tuple[int, uuid.UUID | None]]:
    """{room: (lastSeq, id of that frame or None)}: each value is a seq, or
    `{"seq": n, "id": "<the id of frame n>"}` to have the server check that its history
    is the one the client saw (a database restored or reset numbers rooms anew)."""
    rooms = data.get("rooms")
    if not isinstance(rooms, dict):
        raise InvalidInput.for_fields({"rooms": ["Must be an object of room name to last seq."]})
    if len(rooms) > MAX_ROOMS:
        raise InvalidInput.for_fields({"rooms": [f"At most {MAX_ROOMS} rooms."]})
    parsed: dict[str, tuple[int, uuid.UUID | None]] = {}
    for room, value in rooms.items():
        if not isinstance(room, str) or not room or len(room) > 120:
            raise InvalidInput.for_fields({"rooms": ["Each key must be a room name of 1 to 120 characters."]})
        last, event_id = _seq(value), None
        if isinstance(value, dict):
            last = _seq(value.get("seq"))
            try:
                event_id = uuid.UUID(value["id"]) if value.get("id") is not None else None
            except (TypeError, ValueError, AttributeError):
                last = None
        if last is None:
            raise InvalidInput.for_fields(
                {"rooms": {room: ["Must be a seq (an integer >= 0) or an object with seq and id."]}}
            )
        parsed[room] = (last, event_id)
    return parsed


async def _enter(socket, room: str) -> None:
    """Enters the room under the rules of its join event; DomainError when refused."""
    if room == user_room(socket.user.id):
        return
    if room.startswith("user-") or room.startswith("course-"):
        # The connect placed the socket in every course room it may be in.
        if room not in socket.rooms:
            raise DomainError("You are not a member of this room.", code="not_a_member")
        return
    entry = dispatch.room_entry_for(room)
    if entry is None:
        raise DomainError("There is no such room.", code="unknown_room")
    enter, ident = entry
    await enter(socket, ident)
    if room not in socket.rooms:
        raise DomainError("You may not enter this room.", code="not_a_member")


def _history_since_admission(user_id, room: str, last: int) -> tuple[int, int, list[outbox.ReplayFrame]]:
    """(the room's current seq, `after`, its retained frames with seq > `after`), where
    `after` is `last` raised to the seq the user was admitted to the room at (the room's
    `dispatch.room_floor`: a course room's enrolment), so a frame from before the user
    was admitted is never replayed to them. One database trip for both reads."""
    after = last
    found = dispatch.room_floor_for(room)
    if found is not None:
        floor, ident = found
        admitted = floor(user_id, ident)
        if admitted is not None and admitted > last:
            after = admitted
    current, frames = outbox.room_history(room=room, after=after)
    return current, after, frames


async def _resume_room(
    socket, room: str, last: int, event_id: uuid.UUID | None, pending: list[tuple[str, int | None]]
) -> dict:
    was_in = room in socket.rooms
    previous = socket.sequencer.last.get(room)

    def restore() -> None:
        socket.sequencer.forget(room)
        if was_in and room in socket.rooms and previous is not None:
            socket.sequencer.track(room, previous)

    # From here live frames of the room are held (and the join keeps `last` as its point).
    socket.sequencer.begin_replay(room, last)
    try:
        await _enter(socket, room)
        current, after, frames = await socket_db(_history_since_admission)(socket.user.id, room, last)
        if after > last:
            socket.sequencer.begin_replay(room, after)  # nothing from before the admission
        # The client's frame `last` must be ours (same id): else its history is another one.
        unknown = False
        if event_id is not None and last > 0:
            unknown = await socket_db(outbox.room_event_id)(room=room, seq=last) != event_id
    except DomainError as exc:
        restore()
        return {"status": DENIED, "seq": None, "code": exc.code}
    except Exception as exc:
        restore()
        if is_service_outage(exc):
            raise
        log.exception("resume could not enter %s", room)
        return {"status": DENIED, "seq": None, "code": "internal_error"}

    if unknown or after > current or (current > after and (not frames or frames[0].seq != after + 1)):
        pending.append((room, current))
        return {"status": RESYNC, "seq": current}
    pending.append((room, None))
    outcome = socket.sequencer.fill(room, outbox.texts_for(socket.channel_name, frames))
    await socket.send_texts(outcome.send)
    return {"status": RESUMED, "seq": socket.sequencer.last.get(room, current)}


@dispatch.socket_event(RESUME)
async def resume(socket, data: dict) -> dict:
    """Handles `resume` (see the module docstring). Held live frames are released right
    after the ack (the consumer runs `socket.after_reply` once the ack is sent)."""
    rooms = _parse(data)
    pending: list[tuple[str, int | None]] = []
    result: dict[str, dict] = {}
    try:
        for room, (last, event_id) in rooms.items():
            result[room] = await _resume_room(socket, room, last, event_id, pending)
    finally:
        # Also after a failure (Redis down): no room may stay in replay, holding frames.
        resumed = [room for room, state in result.items() if state["status"] == RESUMED]
        socket.after_reply.append(lambda: _finish_resume(socket, pending, resumed))
    return {"rooms": result}


async def _finish_resume(socket, pending: list[tuple[str, int | None]], resumed: list[str]) -> None:
    for room, resync_to in pending:
        await socket.deliver(room, socket.sequencer.end_replay(room, resync_to))
    for room in resumed:
        for hook in dispatch.room_resumed_hooks:
            try:
                await hook(socket, room)
            except Exception:
                log.exception("room-resumed hook %s failed for %s", getattr(hook, "__qualname__", hook), room)
