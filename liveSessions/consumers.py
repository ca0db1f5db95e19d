"""Socket events of live sessions. See docs/protocol/liveSessions.md.

Room entry is attendance: `join-live-session` runs the same join service as REST
(capacity included) and records the socket's channel; `leave-live-session` and a
disconnect take the channel out, and the user is marked left when their last socket
is gone (services.attendance). `socket.state["live_sessions"]` holds the ids of the
sessions this socket entered, so the disconnect hook knows what to leave.

Chat and typing need the socket to be in `session-<id>` (it is emptied when the session
ends); chat also re-checks "live and allowed" in one lock-free query.
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async

from collab.core.asgi_fast.socket_db import socket_db
from collab.core.errors import Conflict, DomainError
from collab.core.jsonframes import iso
from collab.realtime.broadcast import call_tracking_delivery
from collab.realtime.dispatch import on_socket_disconnect, room_entry, socket_event, validate
from collab.realtime.groupcommit import GroupCommit
from liveSessions import events, services, typing_lifetime
from liveSessions.serializers import SessionMessageSocketSerializer, SessionSocketSerializer

log = logging.getLogger(__name__)

STATE_KEY = "live_sessions"

# Joins of one session that arrive while a batch of them runs go together in the next
# batch: one transaction under the session's row lock instead of one each, so a class of
# 500 joining at 10:00 no longer waits for 500 transactions in a line
# (docs/performance.md S10). A lone join runs at once.
JOIN_BATCH_MAX = 100


async def _join_batch(session_id, requests: list[services.JoinRequest]) -> list:
    return await socket_db(services.attendance_join_many)(session_id=session_id, requests=requests)


_joins = GroupCommit(_join_batch, max_batch=JOIN_BATCH_MAX)


def _entered(socket) -> set:
    return socket.state.setdefault(STATE_KEY, set())


def _not_in_session() -> Conflict:
    """409 `not_in_session`: leave, chat or typing from a socket outside the session's room."""
    return Conflict(
        "This socket is not in that live session: join it first (join-live-session).", code="not_in_session"
    )


def _require_in_room(socket, session_id) -> str:
    room = events.session_room(session_id)
    if room not in socket.rooms:
        raise _not_in_session()
    return room


@socket_event(events.JOIN)
async def join_live_session(socket, data: dict) -> dict:
    session_id = validate(SessionSocketSerializer, data)["session_id"]
    room = events.session_room(session_id)
    # Subscribed before the join commits, so this socket hears every join and leave
    # committed after its own (joining the room after the commit missed those that
    # landed in between: 8 of 500 members in a bench storm had an incomplete list).
    # Nothing of the room is delivered unless the join is allowed.
    await socket.listen(room)
    # On the socket pool, batched with the session's other joins waiting meanwhile.
    try:
        outcome = await _joins.submit(session_id, services.JoinRequest(socket.user, socket.channel_name))
    except BaseException:
        await socket.unlisten(room)
        raise
    # Committed: the attendance holds this socket's channel, so the disconnect hook must
    # take it out even if entering the room fails below (Redis gone: the error frame says
    # service_unavailable, and a retried join is idempotent).
    _entered(socket).add(str(session_id))
    # The room heard of the join on commit (liveSessions.announce).
    await socket.join_room(room, seq=outcome.room_seq)
    return {
        "sessionId": str(session_id),
        "room": room,
        "activeAttendees": outcome.active_attendees,
        "capacity": outcome.session.capacity,
    }


@room_entry("session-")
async def resume_live_session(socket, ident: str) -> None:
    """`resume` re-enters a session room exactly as join-live-session does (attendance and
    capacity included)."""
    await join_live_session(socket, {"sessionId": ident})


async def _exit(socket, session_id: str, *, disconnected: bool) -> None:
    room = events.session_room(session_id)
    _entered(socket).discard(session_id)
    # The room hears of the exit on commit (liveSessions.announce).
    await database_sync_to_async(services.attendance_socket_exit)(
        actor=socket.user, session_id=session_id, channel_name=socket.channel_name, disconnected=disconnected
    )
    await socket.leave_room(room)


@socket_event(events.LEAVE)
async def leave_live_session(socket, data: dict) -> dict:
    session_id = str(validate(SessionSocketSerializer, data)["session_id"])
    if session_id not in _entered(socket) and events.session_room(session_id) not in socket.rooms:
        raise _not_in_session()
    await _exit(socket, session_id, disconnected=False)
    return {"sessionId": session_id}


@on_socket_disconnect
async def leave_sessions_on_disconnect(socket) -> None:
    for session_id in list(socket.state.get(STATE_KEY, ())):
        try:
            await _exit(socket, session_id, disconnected=True)
        except DomainError:
            # One session gone (e.g. deleted) must not keep the others open.
            log.warning("socket exit from live session %s refused", session_id)


@socket_event(events.MESSAGE)
async def session_message(socket, data: dict) -> dict:
    body = validate(SessionMessageSocketSerializer, data)
    _require_in_room(socket, body["session_id"])
    stored, delivery = await socket_db(call_tracking_delivery)(
        services.session_message_send, actor=socket.user, session_id=body["session_id"], message=body["message"]
    )
    # A sent message ends the typing that wrote it.
    await typing_lifetime.typing_stopped(socket, str(body["session_id"]))
    return {
        "id": str(stored.id),
        "sessionId": str(body["session_id"]),
        "sentAt": iso(stored.sent_at),
        "delivery": delivery,
    }


@socket_event(events.TYPING_START)
async def session_typing_start(socket, data: dict) -> dict:
    session_id = str(validate(SessionSocketSerializer, data)["session_id"])
    _require_in_room(socket, session_id)
    await typing_lifetime.typing_started(socket, session_id)
    return {"sessionId": session_id}


@socket_event(events.TYPING_STOP)
async def session_typing_stop(socket, data: dict) -> dict:
    session_id = str(validate(SessionSocketSerializer, data)["session_id"])
    _require_in_room(socket, session_id)
    await typing_lifetime.typing_stopped(socket, session_id)
    return {"sessionId": session_id}
