"""Typing has a lifetime. `session-user-typing` goes to the room when a socket starts
typing in a session; `session-user-stop-typing` always follows, exactly once, when the
first of these happens:

- the socket sends `session-typing-stop`, or sends a chat message there;
- the socket leaves the session room (its leave event, the session ending, the user
  being unenrolled) or closes;
- TYPING_TIMEOUT seconds pass without a renewed `session-typing-start`.

A renewed start only moves the deadline (no new frame). A start whose frame could not be
sent (Redis down: the client gets `service_unavailable`) is not recorded, so no stop
follows it; the client's next start is a first one again. The state lives in the socket
(`socket.state["typing"]`: session id -> deadline and its watcher task), so nothing
outlives the socket and no shared store is written per keystroke.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from django.conf import settings

from collab.realtime.broadcast import broadcast_now
from collab.realtime.dispatch import on_room_left
from liveSessions import events

STATE_KEY = "typing"


@dataclass
class _Typing:
    deadline: float
    watcher: asyncio.Task | None = field(default=None, repr=False)


def _typing(socket) -> dict[str, _Typing]:
    return socket.state.setdefault(STATE_KEY, {})


async def typing_started(socket, session_id: str) -> None:
    """The socket (already in the session room) is typing: tell the others once, and
    (re)arm the deadline."""
    deadline = time.monotonic() + settings.TYPING_TIMEOUT
    current = _typing(socket).get(session_id)
    if current is not None:
        current.deadline = deadline
        return
    # Recorded before the send (a start arriving meanwhile is a renewal, not a second
    # frame), forgotten if the send fails: a stop is only announced for a start that was
    # (the start refused with service_unavailable during an outage left an entry whose stop
    # reached the others, once Redis was back, for a start they never saw).
    entry = _typing(socket)[session_id] = _Typing(deadline)
    try:
        await broadcast_now(
            events.session_room(session_id),
            events.USER_TYPING,
            events.participant_payload(session_id, socket.user),
            exclude_channel=socket.channel_name,
        )
    except BaseException:
        if _typing(socket).get(session_id) is entry:
            del _typing(socket)[session_id]
        raise
    if _typing(socket).get(session_id) is entry:
        entry.watcher = asyncio.create_task(_expire(socket, session_id, entry))


async def typing_stopped(socket, session_id: str) -> bool:
    """Ends the socket's typing in the session, telling the others; False if it was not
    typing there (nothing is sent)."""
    entry = _typing(socket).pop(session_id, None)
    if entry is None:
        return False
    if entry.watcher is not None and entry.watcher is not asyncio.current_task():
        entry.watcher.cancel()
    await broadcast_now(
        events.session_room(session_id),
        events.USER_STOP_TYPING,
        events.participant_payload(session_id, socket.user),
        exclude_channel=socket.channel_name,
    )
    return True


async def _expire(socket, session_id: str, entry: _Typing) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        # A renewal only moves the deadline; the watcher wakes at the old one and sleeps
        # the rest (one wake-up per timeout, not one timer per keystroke).
        while (remaining := entry.deadline - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)
        if _typing(socket).get(session_id) is entry:
            await typing_stopped(socket, session_id)


@on_room_left
async def stop_typing_on_room_left(socket, room: str) -> None:
    session_id = events.session_id_from_room(room)
    if session_id is not None:
        await typing_stopped(socket, session_id)
