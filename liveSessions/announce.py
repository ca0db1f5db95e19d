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
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from collab.accounts.models import User
from collab.realtime.broadcast import broadcast_committed_many, broadcast_now_many_sync
from collab.realtime.coalesce import SINGLE, Coalescer
from liveSessions import events
from liveSessions.models import LiveSession

log = logging.getLogger(__name__)


def _window() -> float:
    return settings.LIVE_SESSION_BATCH_WINDOW if settings.LIVE_SESSION_BATCH_THRESHOLD > 0 else 0.0


def _send_state(frames: list[tuple[str, str, dict, str | None]]) -> None:
    """Who has the room open right now (session-participant-*): state, no seq. After
    commit, from the committing thread, in one trip to the event loop; no database."""
    try:
        broadcast_now_many_sync(frames)
    except Exception:
        log.exception("broadcast of %d participant frames failed", len(frames))


def _send_history(room: str, frames: list[tuple[str, dict, str | None]]) -> None:
    """Attendee changes and batches are history (seq, id; replayed by `resume`): written
    to the outbox in a transaction of their own once it is known, after the change's
    commit, whether they go out alone or batched; all of one commit's in one. From the
    committing thread or a drain timer; a timer thread gives its database connection
    back when done."""
    try:
        broadcast_committed_many(room, frames)
    except Exception:
        log.exception("broadcast of %d frames to %s failed", len(frames), room)
    finally:
        if isinstance(threading.current_thread(), threading.Timer):
            connection.close()


def _send_batch(room: str, changes: list[dict]) -> None:
    _send_history(room, [(events.PARTICIPANTS_BATCH, events.participants_batch_payload(room, changes), None)])


_coalescer = Coalescer("live-session-participants", _window, _send_batch)


@dataclass
class Announcement:
    """One join or leave to tell a session's room about (built under the session lock)."""

    user: User
    joined: bool
    active_attendees: int
    attendee: bool
    participant: bool
    row: dict | None  # the attendee item as it is now (attendee changes only)
    change: dict  # what a batch lists
    exclude_channel: str | None = None
    between: Callable[[], None] | None = None


def announcement(
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
) -> Announcement:
    """`joined` or left: `attendee` for a change of presence (attendee-*, which carry
    `attendance` as the REST attendee list shows it now, so it is required then),
    `participant` for their first / last socket in the room (session-participant-*).
    Neither join event goes to `exclude_channel` (the joining socket), nor
    session-participant-left to the leaving one. `between()`, if given, runs after the
    attendee event and before the participant event of a small room (REST leave moves the
    user's sockets out there), and at once when the change is batched. Build it under the
    session row lock, so `time.time()` orders the changes of a session."""
    return Announcement(
        user=user,
        joined=joined,
        active_attendees=active_attendees,
        attendee=attendee,
        participant=participant,
        # A plain dict, serialized only if the change goes out alone (a batch lists ids
        # and names).
        row=events.attendee_row(session, attendance, user) if attendee else None,
        change={
            "userId": str(user.id),
            "name": user.name,
            "state": "joined" if joined else "left",
            "activeAttendees": active_attendees,
            "at": time.time(),
        },
        exclude_channel=exclude_channel,
        between=between,
    )


def announce_on_commit(session: LiveSession, user: User, **what) -> None:
    """Once the surrounding transaction commits, tells `session`'s room that `user`
    joined or left (the arguments of `announcement`)."""
    announce_many_on_commit(session, [announcement(session, user, **what)])


def announce_many_on_commit(session: LiveSession, announcements: list[Announcement]) -> None:
    """Once the surrounding transaction commits, tells `session`'s room of each change of
    `announcements`, in order: in a small room each on its own, in a large one through
    the coalescing window; all offered in one Redis call, the frames sent alone in one
    outbox transaction and one trip to the event loop (a batch of joins:
    docs/performance.md S12)."""
    announcements = [a for a in announcements if a.attendee or a.participant or a.between]
    if not announcements:
        return
    room = events.session_room(session.id)

    def send_singles(offered: list[Announcement], indexes: list[int]) -> None:
        history, state = [], []
        for index in indexes:
            item = offered[index]
            if item.attendee:
                event = events.ATTENDEE_JOINED if item.joined else events.ATTENDEE_LEFT
                # The joining socket already listens to the room (it subscribes before its
                # join commits) but learns its own join from the ack, as it always has.
                payload = events.attendee_payload(session.id, item.row, active_attendees=item.active_attendees)
                history.append((event, payload, item.exclude_channel if item.joined else None))
            if item.participant:
                event = events.PARTICIPANT_JOINED if item.joined else events.PARTICIPANT_LEFT
                state.append((room, event, events.participant_payload(session.id, item.user), item.exclude_channel))
        if history:
            _send_history(room, history)
        for index in indexes:
            if offered[index].between:
                offered[index].between()
        if state:
            _send_state(state)

    def send() -> None:
        threshold = settings.LIVE_SESSION_BATCH_THRESHOLD
        offered = [a for a in announcements if a.attendee or a.participant]
        modes = _coalescer.offer_many(
            room,
            [(a.change["userId"], a.change, threshold > 0 and a.active_attendees >= threshold) for a in offered],
            send_singles=lambda indexes: send_singles(offered, indexes),
        )
        for item, mode in zip(offered, modes, strict=True):
            if mode != SINGLE and item.between:
                item.between()
        for item in announcements:
            if not (item.attendee or item.participant):
                item.between()

    transaction.on_commit(send, robust=True)
