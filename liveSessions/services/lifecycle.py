"""Session lifecycle: create, start, end, cancel. Each holds the session row lock
while it checks and changes the status, and tells the rooms after commit."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from collab.accounts.models import User
from collab.core.errors import InvalidInput, NotAllowed, NotFound
from collab.core.jsonframes import iso
from collab.courses.models import Course
from collab.realtime.broadcast import broadcast_on_commit, sockets_control_on_commit
from collab.realtime.rooms import course_room
from liveSessions import events
from liveSessions.models import (
    AttendanceInterval,
    LeaveReason,
    LiveSession,
    SessionAttendance,
    SessionStatus,
    live_overlap,
)
from liveSessions.permissions import LiveSessionPermission
from liveSessions.services.common import session_lock, state_conflict


@transaction.atomic
def live_session_create(
    *,
    actor: User,
    title: str,
    scheduled_at: datetime,
    duration: int,
    description: str = "",
    capacity: int | None = None,
    course_id: uuid.UUID | None = None,
    materials: list[dict] | None = None,
) -> LiveSession:
    if not actor.is_instructor:
        raise NotAllowed("Only instructors can schedule live sessions.", code="not_instructor")
    course = None
    if course_id is not None:
        course = Course.objects.filter(id=course_id).first()
        if course is None:
            raise NotFound("Course not found.", code="course_not_found", fields={"courseId": ["Course not found."]})
        if not LiveSessionPermission.can_create(actor, course):
            raise NotAllowed("Only the course's instructor can schedule its sessions.", code="not_course_instructor")
    if scheduled_at <= timezone.now():
        raise InvalidInput.for_fields({"scheduledAt": ["Must be in the future."]})
    session = LiveSession.objects.create(
        course=course,
        instructor=actor,
        title=title,
        description=description,
        scheduled_at=scheduled_at,
        duration=duration,
        capacity=capacity,
        materials=list(materials or []),
        planned_end_at=LiveSession.planned_end(scheduled_at, duration),
    )
    # An open session has no course room: nobody in particular is told.
    if course is not None:
        broadcast_on_commit(course_room(course.id), events.SESSION_SCHEDULED, events.lifecycle_payload(session))
    return session


def _require_owner(actor: User | None, session: LiveSession, verb: str) -> None:
    # actor None: the system (beat) or staff moderating from the Django admin.
    if actor is None:
        return
    if not LiveSessionPermission.can_join(actor, session):
        raise NotFound("Live session not found.", code="session_not_found")
    if not LiveSessionPermission.can_manage(actor, session):
        raise NotAllowed(f"Only the session's instructor can {verb} it.", code="not_session_owner")


def _close_open_intervals(session: LiveSession, *, now: datetime, reason: str) -> int:
    """Closes every open interval of the session (end, cancel) in three queries,
    whatever the number of attendees. The caller holds the session lock."""
    open_intervals = list(
        AttendanceInterval.objects.filter(attendance__session=session, left_at__isnull=True).select_related(
            "attendance"
        )
    )
    attendances = []
    for interval in open_intervals:
        interval.left_at = now
        interval.left_reason = reason
        attendance = interval.attendance
        attendance.attended += live_overlap(interval.joined_at, now, session)
        attendance.present_since = None
        attendance.last_left_at = now
        attendance.socket_channels = []
        attendances.append(attendance)
    AttendanceInterval.objects.bulk_update(open_intervals, ["left_at", "left_reason"], batch_size=1000)
    SessionAttendance.objects.bulk_update(
        attendances, ["attended", "present_since", "last_left_at", "socket_channels"], batch_size=1000
    )
    # Sockets that entered and left without an open interval keep nothing either.
    SessionAttendance.objects.filter(session=session).exclude(socket_channels=[]).update(socket_channels=[])
    return len(open_intervals)


def _session_rooms(session: LiveSession) -> list[str]:
    rooms = [course_room(session.course_id)] if session.course_id else []
    return [*rooms, events.session_room(session.id)]


@transaction.atomic
def live_session_start(*, actor: User | None, session_id: uuid.UUID) -> LiveSession:
    session = session_lock(session_id)
    _require_owner(actor, session, "start")
    if session.status != SessionStatus.SCHEDULED:
        raise state_conflict(session, wanted="scheduled")
    now = timezone.now()
    session.status = SessionStatus.LIVE
    session.started_at = now
    # A late start keeps its full planned length before the auto-end grace runs.
    session.planned_end_at = LiveSession.planned_end(max(now, session.scheduled_at), session.duration)
    session.save(update_fields=["status", "started_at", "planned_end_at"])
    payload = events.lifecycle_payload(session, startedAt=iso(now))
    for room in _session_rooms(session):
        broadcast_on_commit(room, events.SESSION_STARTED, payload)
    return session


@transaction.atomic
def live_session_end(*, actor: User | None, session_id: uuid.UUID, recording_url: str = "") -> LiveSession:
    """Ends a live session (owner, staff via admin, or beat's auto-end): closes every open
    attendance at the same instant, tells the course and session rooms, then empties the
    session room."""
    session = session_lock(session_id)
    _require_owner(actor, session, "end")
    if session.status != SessionStatus.LIVE:
        raise state_conflict(session, wanted="live")
    now = timezone.now()
    session.status = SessionStatus.ENDED
    session.ended_at = now
    if recording_url:
        session.recording_url = recording_url
    session.save(update_fields=["status", "ended_at", "recording_url"])
    _close_open_intervals(session, now=now, reason=LeaveReason.SESSION_ENDED)
    payload = events.ended_payload(session)
    if session.course_id:
        broadcast_on_commit(course_room(session.course_id), events.SESSION_ENDED, payload)
    # Those in the session room hear it and are moved out in the same control message,
    # so no chat or typing reaches them after the end.
    room = events.session_room(session.id)
    sockets_control_on_commit(room, leave=[room], event=events.SESSION_ENDED, data=payload)
    return session


@transaction.atomic
def live_session_cancel(*, actor: User | None, session_id: uuid.UUID) -> LiveSession:
    session = session_lock(session_id)
    _require_owner(actor, session, "cancel")
    if session.status != SessionStatus.SCHEDULED:
        raise state_conflict(session, wanted="scheduled")
    now = timezone.now()
    session.status = SessionStatus.CANCELLED
    session.cancelled_at = now
    session.save(update_fields=["status", "cancelled_at"])
    # Early arrivals (joined while scheduled) are closed with nothing attended.
    _close_open_intervals(session, now=now, reason=LeaveReason.SESSION_CANCELLED)
    if session.course_id:
        broadcast_on_commit(
            course_room(session.course_id),
            events.SESSION_CANCELLED,
            events.lifecycle_payload(session, cancelledAt=iso(now)),
        )
    return session
