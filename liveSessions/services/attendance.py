"""Attendance after the join (joins: liveSessions.services.joins): leaving, the sockets
that hold an attendance, and seats freed when a process died.

Every leave locks the session row first (session_lock), as every join does, so the seat
count and the write happen as one step for that session.

Two doors lead in. REST `/join` records attendance. The socket event
`join-live-session` records attendance too (a socket in the room is someone present)
and remembers the socket's channel on the attendance row; the user is marked left
when their last socket leaves or disconnects, so a second tab keeps them present.
REST `/leave` is explicit: it leaves whatever the sockets do and moves them out of the
room.

Who holds an attendance: the row's `socket_channels`. Non-empty means sockets hold it:
the last of them to leave or disconnect marks the user left, even if the user first
came in by REST (the socket door takes over). Empty means it was joined by REST only
and is explicit: it ends by REST leave, the session's end or cancellation, or
unenrolment, never because a connection went away.

A server process killed with SIGKILL runs no disconnect handler, so the sockets it
held stay on their rows and would keep the user present (and a seat taken) until the
session ends. `attendance_release_lapsed` closes those: a present, socket-held
attendance of a scheduled or live session whose user has no live presence lease
(collab.realtime.leases; the leases of a dead process lapse by themselves) is closed with
reason `connection_lost`, exactly as the lost disconnects would have done it. It runs
after every presence sweep (the `leases_swept` signal, liveSessions.receivers).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from collab.accounts.models import User
from collab.core.errors import Conflict, NotFound
from collab.courses.models import Course
from collab.realtime import leases
from collab.realtime.broadcast import sockets_control_on_commit
from collab.realtime.rooms import user_room
from liveSessions import events
from liveSessions.announce import announce_on_commit
from liveSessions.models import (
    AttendanceInterval,
    LeaveReason,
    LiveSession,
    SessionAttendance,
    SessionStatus,
    live_overlap,
)
from liveSessions.permissions import LiveSessionPermission
from liveSessions.services.common import seats_taken, session_lock

log = logging.getLogger(__name__)

OPEN_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.LIVE)


@dataclass
class LeaveOutcome:
    session: LiveSession
    attendance: SessionAttendance | None
    active_attendees: int
    left: bool
    last_socket: bool = False


def _close_interval(session: LiveSession, attendance: SessionAttendance, *, reason: str) -> None:
    now = timezone.now()
    interval = AttendanceInterval.objects.filter(attendance=attendance, left_at__isnull=True).first()
    if interval is not None:
        interval.left_at = now
        interval.left_reason = reason
        interval.save(update_fields=["left_at", "left_reason"])
        attendance.attended += live_overlap(interval.joined_at, now, session)
    attendance.present_since = None
    attendance.last_left_at = now
    attendance.save(update_fields=["attended", "present_since", "last_left_at", "socket_channels"])


@transaction.atomic
def attendance_leave(*, actor: User, session_id: uuid.UUID) -> LeaveOutcome:
    """REST leave: frees the seat and moves the user's sockets out of the session room."""
    session = session_lock(session_id)
    if not LiveSessionPermission.can_join(actor, session):
        raise NotFound("Live session not found.", code="session_not_found")
    attendance = SessionAttendance.objects.filter(session=session, user=actor).first()
    if attendance is None or attendance.present_since is None:
        raise Conflict("You are not in this session.", code="not_attending")
    return _leave_everywhere(session, attendance, actor, reason=LeaveReason.LEFT)


def _leave_everywhere(session: LiveSession, attendance: SessionAttendance, user: User, *, reason: str) -> LeaveOutcome:
    """Marks a present user left of the locked session whatever their sockets do: the
    interval closes, the room hears attendee-left, and every socket of the user leaves
    the room (and the room hears participant-left) once committed."""
    had_sockets = bool(attendance.socket_channels)
    attendance.socket_channels = []
    _close_interval(session, attendance, reason=reason)
    active = seats_taken(session)
    room = events.session_room(session.id)

    def move_sockets_out() -> None:
        sockets_control_on_commit(user_room(user.id), leave=[room])

    announce_on_commit(
        session,
        user,
        joined=False,
        active_attendees=active,
        attendee=True,
        attendance=attendance,
        participant=had_sockets,
        between=move_sockets_out if had_sockets else None,
    )
    return LeaveOutcome(session, attendance, active, left=True, last_socket=had_sockets)


@transaction.atomic
def attendance_end_for_unenrolled(*, course: Course, user_id: uuid.UUID, actor: User | None) -> int:
    """Receiver of `enrollment_removed` (collab.courses.signals): a user who may no longer join the
    course's sessions leaves every scheduled or live one they are present in (interval
    closed with reason `unenrolled`, attendee-left, their sockets out of the room).
    Returns how many sessions they left.

    The course's scheduled and live sessions are locked in id order before attendance is
    read, as attendance_join locks the session before its permission check: a racing
    join either committed first and is undone here, or waits and is then refused."""
    user = User.objects.get(id=user_id)
    sessions = list(
        LiveSession.objects.select_for_update(of=("self",))
        .filter(course=course, status__in=[SessionStatus.SCHEDULED, SessionStatus.LIVE])
        .select_related("course", "instructor")
        .order_by("id")
    )
    # The session's own host (or an admin) may still be allowed in: they stay.
    sessions = {s.id: s for s in sessions if not LiveSessionPermission.can_join(user, s)}
    present = SessionAttendance.objects.filter(
        session_id__in=list(sessions), user=user, present_since__isnull=False
    ).order_by("session_id")
    left = 0
    for attendance in present:
        _leave_everywhere(sessions[attendance.session_id], attendance, user, reason=LeaveReason.UNENROLLED)
        left += 1
    return left


@transaction.atomic
def attendance_socket_exit(
    *, actor: User, session_id: uuid.UUID, channel_name: str, disconnected: bool = False
) -> LeaveOutcome:
    """A socket leaves the room (leave-live-session or disconnect). The user is marked
    left only when this was their last socket there. No visibility check: whoever is
    in may always get out. A socket the row does not know (already ended, REST leave
    came first) changes nothing."""
    session = session_lock(session_id)
    attendance = SessionAttendance.objects.filter(session=session, user=actor).first()
    if attendance is None or channel_name not in attendance.socket_channels:
        return LeaveOutcome(session, attendance, seats_taken(session), left=False)
    attendance.socket_channels = [c for c in attendance.socket_channels if c != channel_name]
    last_socket = not attendance.socket_channels
    left = False
    if last_socket and attendance.present_since is not None:
        _close_interval(session, attendance, reason=LeaveReason.DISCONNECTED if disconnected else LeaveReason.LEFT)
        left = True
    else:
        attendance.save(update_fields=["socket_channels"])
    active = seats_taken(session)
    announce_on_commit(
        session,
        actor,
        joined=False,
        active_attendees=active,
        attendee=left,
        attendance=attendance,
        participant=last_socket,
        exclude_channel=channel_name,
    )
    return LeaveOutcome(session, attendance, active, left=left, last_socket=last_socket)


def attendance_release_lapsed() -> int:
    """Frees the seats held only by dead sockets. Returns how many attendances closed.

    Run on the `leases_swept` signal (collab.realtime.signals) rather than from the
    auto-end beat task: the leases say "is this user still connected", so seats are
    freed right after the sweep that finds the leases gone, on the sweep's schedule and
    lease lifetime, and presence imports nothing of liveSessions.

    Reads every present, socket-held attendance of a scheduled or live session and the
    leases of their users in one Redis call (ZMSCORE). A user with any live lease (a
    tab alive anywhere, REST heartbeat included) keeps everything: the lease is per
    user, so which of their sockets died cannot be told. Then, per session with lapsed
    holders, in session id order: lock the session, re-read the rows and the leases
    (one call per such session; a user who reconnected meanwhile is live again and is
    kept), and close each with reason `connection_lost` as a REST leave does (socket
    channels cleared, attendee-left, their sockets out of the room, participant-left).
    Idempotent and safe when two runs overlap: the second waits for the lock and finds
    the rows closed."""
    held = (
        SessionAttendance.objects.filter(
            present_since__isnull=False, user__isnull=False, session__status__in=OPEN_STATUSES
        )
        .exclude(socket_channels=[])
        .values_list("session_id", "user_id")
    )
    pairs = list(held)
    if not pairs:
        return 0
    live = leases.live_expiries(list({user_id for _, user_id in pairs}))
    lapsed: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for session_id, user_id in pairs:
        if str(user_id) not in live:
            lapsed[session_id].append(user_id)
    released = 0
    for session_id in sorted(lapsed):
        try:
            released += _release_lapsed_in_session(session_id=session_id, user_ids=lapsed[session_id])
        except NotFound:
            log.info("live session %s vanished before its lapsed attendance was released", session_id)
    return released


@transaction.atomic
def _release_lapsed_in_session(*, session_id: uuid.UUID, user_ids: list[uuid.UUID]) -> int:
    session = session_lock(session_id)
    if session.status not in OPEN_STATUSES:
        return 0  # ended or cancelled meanwhile: that closed every interval already
    rows = list(
        SessionAttendance.objects.filter(session=session, user_id__in=user_ids, present_since__isnull=False)
        .exclude(socket_channels=[])
        .select_related("user")
        .order_by("user_id")
    )
    if not rows:
        return 0
    # Under the lock: a join of a reconnected socket waits for it, and its lease was
    # taken on connect, before it could send join-live-session.
    live = leases.live_expiries([row.user_id for row in rows])
    released = 0
    for attendance in rows:
        if str(attendance.user_id) in live:
            continue
        _leave_everywhere(session, attendance, attendance.user, reason=LeaveReason.CONNECTION_LOST)
        released += 1
    return released
