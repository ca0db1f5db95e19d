"""Joining a live session: one join, or a batch of joins of one session in one transaction.

Every join locks the session row first (session_lock), so the status check, the seat
count and the write happen as one step for that session: 50 concurrent joins of a
10-seat session leave exactly 10 present, and a user joining 20 times at once gets one
attendance row with one open interval (the unique constraints back this up).

A batch (`attendance_join_many`) is the same joins one after another under one lock:
each is checked, counted and announced exactly as it would be alone, in the batch's
order, and a refused join refuses only itself. It exists for the class-start storm: the
joins of a session run one at a time under its lock, so 500 students at 10:00 waited
for 500 transactions in a line (docs/performance.md S10); a batch costs the statements
of one join.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from collab.accounts.models import User
from collab.core.errors import Conflict, DomainError, NotFound
from collab.realtime import outbox
from liveSessions import events
from liveSessions.announce import Announcement, announce_many_on_commit, announcement
from liveSessions.models import AttendanceInterval, LiveSession, SessionAttendance, SessionStatus
from liveSessions.permissions import LiveSessionPermission
from liveSessions.services.common import join_conflict, seats_taken, session_lock, state_conflict


@dataclass(frozen=True)
class JoinRequest:
    """One join: `actor` enters the session; with `channel_name`, a socket enters its room."""

    actor: User
    channel_name: str | None = None


@dataclass
class JoinOutcome:
    session: LiveSession
    attendance: SessionAttendance
    active_attendees: int
    newly_present: bool
    first_socket: bool = False
    room_seq: int = 0


def attendance_join(*, actor: User, session_id: uuid.UUID, channel_name: str | None = None) -> JoinOutcome:
    """Marks `actor` present. Idempotent: joining while present changes nothing.
    With `channel_name` (a socket entering the room) the session must be live.

    Raises NotFound `session_not_found` (missing, or not the actor's to join), Conflict
    `session_not_live` (a socket join of a session not live), `session_ended` /
    `session_cancelled` (a REST join of a closed session), `session_full`."""
    (result,) = attendance_join_many(session_id=session_id, requests=[JoinRequest(actor, channel_name)])
    if isinstance(result, DomainError):
        raise result
    return result


@transaction.atomic
def attendance_join_many(
    *, session_id: uuid.UUID | str, requests: Sequence[JoinRequest]
) -> list[JoinOutcome | DomainError]:
    """The joins of `requests`, in order, in one transaction under the session lock: for
    each request its JoinOutcome, or the DomainError that refused it (as
    `attendance_join` would raise it). A session that does not exist refuses the batch
    (NotFound raised).

    `JoinOutcome.room_seq` is the session room's seq as of the lock statement's start
    (collab.realtime.outbox): a socket joining counts the frames up to it as delivered;
    every frame committed later has a higher seq, and those in between describe earlier
    changes. Statements, whatever the batch's size: the lock (with the seq), the
    permission, the attendance rows, one seat count, the inserts and updates, COMMIT."""
    session = session_lock(session_id, room_seq=outbox.room_seq_expression(events.session_room(session_id)))
    # After the lock, not in its statement: an unenrolment that held the lock meanwhile
    # must be seen (tests/courses/test_unenrollment.py).
    allowed = LiveSessionPermission.joinable([request.actor for request in requests], session)
    batch = _Batch(session, allowed)
    results: list[JoinOutcome | DomainError] = []
    for request in requests:
        try:
            results.append(batch.join(request))
        except DomainError as refusal:
            results.append(refusal)
    batch.write()
    return results


class _Batch:
    """The joins of one batch, applied in memory in order, then written at once."""

    def __init__(self, session: LiveSession, allowed: set) -> None:
        self.session = session
        self.allowed = allowed
        self.now = timezone.now()
        self.rows = (
            {row.user_id: row for row in SessionAttendance.objects.filter(session=session, user_id__in=allowed)}
            if allowed
            else {}
        )
        # Under the lock: nobody else can take or free a seat of this session meanwhile.
        self.active = seats_taken(session) if allowed else 0
        self.inserts: dict[uuid.UUID, SessionAttendance] = {}
        self.updates: dict[uuid.UUID, set[str]] = {}
        self.intervals: list[AttendanceInterval] = []
        self.announcements: list[Announcement] = []

    def join(self, request: JoinRequest) -> JoinOutcome:
        session, actor, channel_name = self.session, request.actor, request.channel_name
        if actor.id not in self.allowed:
            raise NotFound("Live session not found.", code="session_not_found")
        if channel_name is not None:
            if session.status != SessionStatus.LIVE:
                raise state_conflict(session, wanted="live")
        elif session.status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
            raise join_conflict(session)

        attendance = self.rows.get(actor.id)
        newly_present = attendance is None or attendance.present_since is None
        held = list(attendance.socket_channels) if attendance is not None else []
        first_socket = channel_name is not None and not held
        if channel_name is not None and channel_name not in held:
            held.append(channel_name)
        if newly_present:
            takes_seat = LiveSessionPermission.takes_seat(actor.id, session)
            if session.capacity is not None and takes_seat and self.active >= session.capacity:
                raise Conflict("The session is full.", code="session_full")
            attendance = self._open_interval(actor, attendance, held)
            self.active += 1 if takes_seat else 0
        elif held != attendance.socket_channels:
            attendance.socket_channels = held
            self._changed(attendance, "socket_channels")

        self.announcements.append(
            announcement(
                session,
                actor,
                joined=True,
                active_attendees=self.active,
                attendee=newly_present,
                attendance=attendance,
                participant=first_socket,
                exclude_channel=channel_name,
            )
        )
        return JoinOutcome(session, attendance, self.active, newly_present, first_socket, room_seq=session.room_seq)

    def _open_interval(
        self, user: User, attendance: SessionAttendance | None, channels: list[str]
    ) -> SessionAttendance:
        """Opens a presence interval; `channels` (the row's socket channels afterwards)
        go in the same write."""
        if attendance is None:
            attendance = SessionAttendance(
                session=self.session,
                user=user,
                first_joined_at=self.now,
                present_since=self.now,
                socket_channels=channels,
            )
            self.rows[user.id] = self.inserts[user.id] = attendance
        else:
            attendance.present_since = self.now
            attendance.socket_channels = channels
            self._changed(attendance, "present_since", "socket_channels")
        self.intervals.append(AttendanceInterval(attendance=attendance, joined_at=self.now))
        return attendance

    def _changed(self, attendance: SessionAttendance, *fields: str) -> None:
        if attendance.user_id not in self.inserts:  # a new row is inserted as it ends up
            self.updates.setdefault(attendance.user_id, set()).update(fields)

    def write(self) -> None:
        """One INSERT of the new rows, an UPDATE per changed row, one INSERT of the intervals."""
        try:
            SessionAttendance.objects.bulk_create(list(self.inserts.values()))
        except IntegrityError:
            # Only reachable without the lock (it is always held); kept as a clear error.
            # The transaction rolls back whole.
            raise Conflict("Already joined.", code="already_joined")
        for user_id, fields in self.updates.items():
            self.rows[user_id].save(update_fields=sorted(fields))
        AttendanceInterval.objects.bulk_create(self.intervals)
        announce_many_on_commit(self.session, self.announcements)
