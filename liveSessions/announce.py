"""Who entered or left a live session, told to its room once the change commits.

Small rooms hear each change as before: `attendee-joined` / `attendee-left` (a user
became present or stopped being present) and `session-participant-joined` / `-left`
(their first socket entered the room or their last left it; not sent to that socket).

Large rooms (`LIVE_SESSION_BATCH_THRESHOLD` seats taken or more) would hear N² frames in a
class-start storm of N joins (bench profile: 565 frames per member for 500 joins, a
seventh of the server's CPU). There a change opens a coalescing window
(`LIVE_SESSION_BATCH_WINDOW` seconds, collab.realtime.coalesce) and the room hears at most
one `session-participants-batch` per window:
`{sessionId, activeAttendees, joined: [{userId, name}], left: [{userId, name}]}`,
each user at most once with their latest change, `activeAttendees` the count after the
latest change in it. While a window is open every change of the room waits for it,
small or not, so no single event overtakes a batched change of the same user.
"""

from __future__ import annotations

import logging
import threading
import time

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, transaction

from collab.accounts.models import User
from collab.realtime.broadcast import broadcast_committed, broadcast_now
from collab.realtime.coalesce import SINGLE, Coalescer
from liveSessions import events
from liveSessions.models import LiveSession

log = logging.getLogger(__name__)


def _window() -> float:
    return settings.LIVE_SESSION_BATCH_WINDOW if settings.LIVE_SESSION_BATCH_THRESHOLD > 0 else 0.0


def _send(room: str, event: str, data: dict, exclude_channel: str | None = None) -> None:
    """Who has the room open right now (session-participant-*): state, no seq. After
    commit, from the committing thread; no database touched."""
    try:
        async_to_sync(broadcast_now)(room, event, data, exclude_channel=exclude_channel)
    except Exception:
        log.exception("broadcast of %s to %s failed", event, room)


def _send_history(room: str, event: str, data: dict, exclude_channel: str | None = None) -> None:
    """Attendee changes and batches are history (seq, id; replayed by `resume`): written
    to the outbox in a transaction of their own once it is known, after the change's
    commit, whether they go out alone or batched. From the committing thread or a drain
    timer; a timer thread gives its database connection back when done."""
    try:
        broadcast_committed(room, event, data, exclude_channel=exclude_channel)
    except Exception:
        log.exception("broadcast of %s to %s failed", event, room)
    finally:
        if isinstance(threading.current_thread(), threading.Timer):
            connection.close()


def _send_batch(room: str, changes: list[dict]) -> None:
    _send_history(room, events.PARTICIPANTS_BATCH, events.participants_batch_payload(room, changes))


_coalescer = Coalescer("live-session-participants", _window, _send_batch)


def announce_on_commit(
    session: LiveSession,
    user: User,
    *,
    joined: bool,
    active_attendees: int,
    attendee: bool,
    attendance=None,
    participant: bool,
    exclude_channel: str | None = None,
    between=None,
) -> None:
    """Once the surrounding transaction commits, tells `session`'s room that `user`
    joined (`joined`) or left: `attendee` for a change of presence (attendee-*, which
    carry `attendance` as the REST attendee list shows it now, so it is required then),
    `participant` for their first / last socket in the room (session-participant-*).
    Neither join event goes to `exclude_channel` (the joining socket), nor
    session-participant-left to the leaving one. `between()`, if given, runs after the attendee event and
    before the participant event of a small room (REST leave moves the user's sockets
    out there), and at once when the change is batched. Must be called under the session
    row lock, so `time.time()` orders the changes of a session."""
    if not (attendee or participant or between):
        return
    room = events.session_room(session.id)
    # The attendee item as it is now, in this transaction: a plain dict, serialized only
    # if the change goes out alone (a batch lists ids and names).
    row = events.attendee_row(session, attendance, user) if attendee else None
    change = {
        "userId": str(user.id),
        "name": user.name,
        "state": "joined" if joined else "left",
        "activeAttendees": active_attendees,
        "at": time.time(),
    }

    def send() -> None:
        threshold = settings.LIVE_SESSION_BATCH_THRESHOLD
        mode = SINGLE
        if attendee or participant:
            mode = _coalescer.offer(
                room, change["userId"], change, open_window=threshold > 0 and active_attendees >= threshold
            )
        if mode != SINGLE:
            if between:
                between()
            return
        if attendee:
            event = events.ATTENDEE_JOINED if joined else events.ATTENDEE_LEFT
            # The joining socket already listens to the room (it subscribes before its
            # join commits) but learns its own join from the ack, as it always has.
            _send_history(
                room,
                event,
                events.attendee_payload(session.id, row, active_attendees=active_attendees),
                exclude_channel if joined else None,
            )
        if between:
            between()
        if participant:
            event = events.PARTICIPANT_JOINED if joined else events.PARTICIPANT_LEFT
            _send(room, event, events.participant_payload(session.id, user), exclude_channel)

    transaction.on_commit(send, robust=True)
