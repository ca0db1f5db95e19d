"""Live-session reads. What a user may not join does not exist for them (NotFound)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from collab.accounts.models import User
from collab.chat.services import chat_history
from collab.core.errors import NotAllowed, NotFound
from collab.core.params import Cursor
from collab.courses.selectors import course_get_visible
from liveSessions.models import LiveSession, SessionAttendance, SessionMessage, SessionStatus, live_overlap
from liveSessions.permissions import LiveSessionPermission


def with_active_attendees(sessions: QuerySet[LiveSession]) -> QuerySet[LiveSession]:
    """Annotates `active_attendees`: seats taken now (present, the host excluded)."""
    return sessions.select_related("instructor", "course").annotate(
        active_attendees=Count(
            "attendances",
            filter=Q(attendances__present_since__isnull=False) & ~Q(attendances__user_id=F("instructor_id")),
        )
    )


def session_get_joinable(*, user: User, session_id: uuid.UUID | str) -> LiveSession:
    session = with_active_attendees(LiveSession.objects.filter(id=session_id)).first()
    if session is None or not LiveSessionPermission.can_join(user, session):
        raise NotFound("Live session not found.", code="session_not_found")
    return session


def session_list_upcoming_for_course(*, user: User, course_id: uuid.UUID, limit: int) -> list[LiveSession]:
    """Scheduled and live sessions of a course, soonest first (live ones started earlier)."""
    course = course_get_visible(user=user, course_id=course_id)
    sessions = LiveSession.objects.filter(course=course, status__in=[SessionStatus.SCHEDULED, SessionStatus.LIVE])
    return list(with_active_attendees(sessions).order_by("scheduled_at", "id")[:limit])


def session_list_for_instructor(*, user: User, status: str | None, limit: int) -> list[LiveSession]:
    """The instructor's own sessions, the latest scheduled first."""
    if not user.is_instructor:
        raise NotAllowed("Only instructors have sessions of their own.", code="not_instructor")
    sessions = LiveSession.objects.filter(instructor=user)
    if status:
        sessions = sessions.filter(status=status)
    return list(with_active_attendees(sessions).order_by("-scheduled_at", "-id")[:limit])


def attendance_seconds(attendance: SessionAttendance, session: LiveSession, *, now: datetime) -> int:
    """Closed intervals (stored) plus the live part of the open one, if any."""
    total = attendance.attended
    if attendance.present_since is not None:
        total += live_overlap(attendance.present_since, now, session)
    return int(total.total_seconds())


def session_attendees(*, session: LiveSession, limit: int) -> list[SessionAttendance]:
    """Everyone who joined, present first, then by name; the host is flagged by the caller."""
    return list(
        SessionAttendance.objects.filter(session=session)
        .select_related("user")
        .order_by(F("present_since").asc(nulls_last=True), "user__name", "id")[:limit]
    )


def session_messages(
    *, session: LiveSession, cursor: Cursor | None = None, before: datetime | None = None, limit: int
) -> tuple[list[SessionMessage], str | None]:
    """One page of the session's chat and the next page's cursor (collab.chat.services.chat_history)."""
    return chat_history(SessionMessage.objects.filter(session=session), cursor=cursor, before=before, limit=limit)


def session_message_get_for_moderation(*, user: User, session_id: uuid.UUID, message_id: uuid.UUID) -> SessionMessage:
    """A message of the session that `user` may delete. 404 `session_not_found` when the
    session is not theirs to see, 403 `not_session_owner` when they may see but not
    moderate it, 404 `message_not_found` for a message not in this session."""
    session = session_get_joinable(user=user, session_id=session_id)
    if not LiveSessionPermission.can_moderate(user, session):
        raise NotAllowed("Only the session's instructor and admins delete chat messages.", code="not_session_owner")
    message = SessionMessage.objects.filter(session=session, id=message_id).first()
    if message is None:
        raise NotFound("Message not found.", code="message_not_found")
    return message


def attendance_report(*, user: User, session_id: uuid.UUID) -> tuple[LiveSession, list[dict]]:
    """Per attendee (the host excluded): the joined/left timeline and attendanceSeconds.
    Two queries whatever the size of the class."""
    session = session_get_joinable(user=user, session_id=session_id)
    if not LiveSessionPermission.can_see_report(user, session):
        raise NotAllowed(
            "Only the session's instructor, course staff and admins see attendance.", code="not_session_owner"
        )
    now = timezone.now()
    attendances = (
        SessionAttendance.objects.filter(session=session)
        .exclude(user_id=session.instructor_id)
        .select_related("user")
        .prefetch_related("intervals")
        .order_by("user__name", "first_joined_at", "id")
    )
    rows = []
    for attendance in attendances:
        intervals = list(attendance.intervals.all())
        rows.append(
            {
                "user_id": attendance.user_id,
                "name": attendance.user.name if attendance.user else "Deleted user",
                "first_joined_at": attendance.first_joined_at,
                "last_left_at": attendance.last_left_at,
                "present": attendance.present_since is not None,
                "joins": len(intervals),
                "attendance_seconds": attendance_seconds(attendance, session, now=now),
                "intervals": [{"joined_at": i.joined_at, "left_at": i.left_at} for i in intervals],
            }
        )
    return session, rows
