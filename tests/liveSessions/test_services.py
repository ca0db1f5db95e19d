"""Services: creation rules and every state transition (allowed and refused).

Joins and leaves: test_services_joins.py; attendance arithmetic: test_services_attendance.py;
chat and moderation: test_services_chat.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.core.jsonframes import iso
from collab.realtime.testing import capture_broadcasts
from liveSessions import services
from liveSessions.models import (
    AttendanceInterval,
    SessionAttendance,
    SessionStatus,
)
from tests.factories import EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db

S = SessionStatus


def _future(minutes=60):
    return timezone.now() + timedelta(minutes=minutes)


# -- create ------------------------------------------------------------------------------


def test_course_instructor_creates_and_course_room_hears_it(course, instructor, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        session = services.live_session_create(
            actor=instructor, title="Week 1", scheduled_at=_future(), duration=45, capacity=30, course_id=course.id
        )
    assert session.status == S.SCHEDULED
    assert session.planned_end_at == session.scheduled_at + timedelta(minutes=45)
    assert sent.events() == ["live-session-scheduled"]
    assert sent[0].room == f"course-{course.id}"
    assert sent[0].data["sessionId"] == str(session.id)
    assert sent[0].data["session"]["title"] == "Week 1"


def test_any_instructor_creates_an_open_session_announced_to_nobody(
    other_instructor, django_capture_on_commit_callbacks
):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        session = services.live_session_create(actor=other_instructor, title="Open", scheduled_at=_future(), duration=5)
    assert session.course_id is None
    assert sent == []


@pytest.mark.parametrize("who", ["student", "other_instructor", "admin_user"])
def test_only_the_course_instructor_creates_for_a_course(request, course, who):
    with pytest.raises(NotAllowed):
        services.live_session_create(
            actor=request.getfixturevalue(who), title="x", scheduled_at=_future(), duration=5, course_id=course.id
        )


def test_students_cannot_create_open_sessions(student):
    with pytest.raises(NotAllowed) as exc:
        services.live_session_create(actor=student, title="x", scheduled_at=_future(), duration=5)
    assert exc.value.code == "not_instructor"


def test_create_refuses_past_time_and_unknown_course(instructor):
    with pytest.raises(InvalidInput):
        services.live_session_create(actor=instructor, title="x", scheduled_at=_future(-1), duration=5)
    import uuid

    with pytest.raises(NotFound):
        services.live_session_create(
            actor=instructor, title="x", scheduled_at=_future(), duration=5, course_id=uuid.uuid4()
        )


# -- transitions -------------------------------------------------------------------------

TRANSITIONS = [
    # service, from status, expected new status or the 409 code
    ("live_session_start", S.SCHEDULED, S.LIVE),
    ("live_session_start", S.LIVE, "session_not_scheduled"),
    ("live_session_start", S.ENDED, "session_not_scheduled"),
    ("live_session_start", S.CANCELLED, "session_not_scheduled"),
    ("live_session_end", S.LIVE, S.ENDED),
    ("live_session_end", S.SCHEDULED, "session_not_live"),
    ("live_session_end", S.ENDED, "session_not_live"),
    ("live_session_end", S.CANCELLED, "session_not_live"),
    ("live_session_cancel", S.SCHEDULED, S.CANCELLED),
    ("live_session_cancel", S.LIVE, "session_not_scheduled"),
    ("live_session_cancel", S.ENDED, "session_not_scheduled"),
    ("live_session_cancel", S.CANCELLED, "session_not_scheduled"),
]


@pytest.mark.parametrize(("service", "start", "outcome"), TRANSITIONS)
def test_every_transition(make_session, instructor, service, start, outcome):
    session = make_session(start)
    call = getattr(services, service)
    if outcome in S.values:
        result = call(actor=instructor, session_id=session.id)
        assert result.status == outcome
        session.refresh_from_db()
        assert session.status == outcome
    else:
        with pytest.raises(Conflict) as exc:
            call(actor=instructor, session_id=session.id)
        assert exc.value.code == outcome
        session.refresh_from_db()
        assert session.status == start


@pytest.mark.parametrize("service", ["live_session_start", "live_session_end", "live_session_cancel"])
@pytest.mark.parametrize(("who", "error"), [("student", NotAllowed), ("admin_user", NotAllowed)])
def test_only_the_owner_changes_the_status(request, make_session, service, who, error):
    session = make_session(S.LIVE if service == "live_session_end" else S.SCHEDULED)
    with pytest.raises(error):
        getattr(services, service)(actor=request.getfixturevalue(who), session_id=session.id)


def test_outsiders_do_not_see_the_session_to_manage(make_session, other_instructor):
    with pytest.raises(NotFound):
        services.live_session_start(actor=other_instructor, session_id=make_session().id)


def test_start_sets_times_and_a_late_start_keeps_its_full_length(make_session, instructor):
    session = make_session(scheduled_at=timezone.now() - timedelta(minutes=40), duration=30)
    started = services.live_session_start(actor=instructor, session_id=session.id)
    assert started.started_at is not None
    assert started.planned_end_at == started.started_at + timedelta(minutes=30)


def test_end_keeps_recording_url_and_tells_course_then_session_room(
    live, instructor, course, django_capture_on_commit_callbacks
):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        ended = services.live_session_end(actor=instructor, session_id=live.id, recording_url="https://rec.example/1")
    assert ended.recording_url == "https://rec.example/1"
    assert [(b.room, b.event) for b in sent] == [
        (f"course-{course.id}", "session-ended"),
        (f"session-{live.id}", "session-ended"),
    ]
    assert sent[0].data == {
        "sessionId": str(live.id),
        "courseId": str(course.id),
        "endedAt": iso(ended.ended_at),
        "recordingUrl": "https://rec.example/1",
    }


def test_end_closes_every_open_attendance(live, instructor, course):
    students = [UserFactory() for _ in range(3)]
    for user in students:
        EnrollmentFactory(course=course, user=user)
        services.attendance_join(actor=user, session_id=live.id)
    services.attendance_join(actor=instructor, session_id=live.id)
    services.live_session_end(actor=instructor, session_id=live.id)
    assert not AttendanceInterval.objects.filter(attendance__session=live, left_at__isnull=True).exists()
    assert not SessionAttendance.objects.filter(session=live, present_since__isnull=False).exists()
    assert set(AttendanceInterval.objects.values_list("left_reason", flat=True)) == {"session_ended"}


def test_cancel_closes_early_arrivals_with_nothing_attended(session, instructor, student):
    services.attendance_join(actor=student, session_id=session.id)
    services.live_session_cancel(actor=instructor, session_id=session.id)
    attendance = SessionAttendance.objects.get(session=session, user=student)
    assert attendance.present_since is None
    assert attendance.attended == timedelta(0)
