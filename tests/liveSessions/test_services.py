"""Services: creation rules, every state transition (allowed and refused), joins with
capacity, attendance arithmetic on a frozen clock, chat and moderation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.core.jsonframes import iso
from collab.realtime.testing import capture_broadcasts
from liveSessions import selectors, services
from liveSessions.models import (
    AttendanceInterval,
    LiveSession,
    SessionAttendance,
    SessionMessage,
    SessionStatus,
    live_overlap,
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


# -- join and leave ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(S.SCHEDULED, None), (S.LIVE, None), (S.ENDED, "session_ended"), (S.CANCELLED, "session_cancelled")],
)
def test_join_by_status(make_session, student, status, code):
    session = make_session(status)
    if code is None:
        outcome = services.attendance_join(actor=student, session_id=session.id)
        assert outcome.newly_present and outcome.active_attendees == 1
    else:
        with pytest.raises(Conflict) as exc:
            services.attendance_join(actor=student, session_id=session.id)
        assert exc.value.code == code


def test_join_twice_counts_once(live, student):
    services.attendance_join(actor=student, session_id=live.id)
    again = services.attendance_join(actor=student, session_id=live.id)
    assert not again.newly_present
    assert again.active_attendees == 1
    assert SessionAttendance.objects.filter(session=live).count() == 1
    assert AttendanceInterval.objects.filter(attendance__session=live).count() == 1


def test_capacity_leave_frees_the_seat_and_rejoin_needs_one(make_session, course, student, other_student):
    session = make_session(S.LIVE, capacity=1)
    EnrollmentFactory(course=course, user=other_student)
    services.attendance_join(actor=student, session_id=session.id)
    with pytest.raises(Conflict) as exc:
        services.attendance_join(actor=other_student, session_id=session.id)
    assert exc.value.code == "session_full"
    services.attendance_leave(actor=student, session_id=session.id)
    services.attendance_join(actor=other_student, session_id=session.id)
    with pytest.raises(Conflict):
        services.attendance_join(actor=student, session_id=session.id)
    services.attendance_leave(actor=other_student, session_id=session.id)
    rejoined = services.attendance_join(actor=student, session_id=session.id)
    assert rejoined.newly_present
    assert AttendanceInterval.objects.filter(attendance__user=student).count() == 2


def test_the_host_never_takes_a_seat(make_session, instructor, student):
    session = make_session(S.LIVE, capacity=1)
    services.attendance_join(actor=student, session_id=session.id)
    host = services.attendance_join(actor=instructor, session_id=session.id)
    assert host.newly_present
    assert host.active_attendees == 1


def test_outsiders_cannot_join_course_sessions_but_anyone_joins_open_ones(make_session, other_student, instructor):
    with pytest.raises(NotFound):
        services.attendance_join(actor=other_student, session_id=make_session().id)
    open_session = make_session(course=None, instructor=instructor)
    assert services.attendance_join(actor=other_student, session_id=open_session.id).newly_present


def test_leave_when_not_present_is_a_conflict(live, student):
    with pytest.raises(Conflict) as exc:
        services.attendance_leave(actor=student, session_id=live.id)
    assert exc.value.code == "not_attending"
    services.attendance_join(actor=student, session_id=live.id)
    services.attendance_leave(actor=student, session_id=live.id)
    with pytest.raises(Conflict):
        services.attendance_leave(actor=student, session_id=live.id)


def test_join_and_leave_tell_the_session_room(live, student, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        services.attendance_join(actor=student, session_id=live.id)
        services.attendance_join(actor=student, session_id=live.id)
        services.attendance_leave(actor=student, session_id=live.id)
    assert sent.events() == ["attendee-joined", "attendee-left"]
    assert {b.room for b in sent} == {f"session-{live.id}"}
    joined, left = sent[0].data, sent[1].data
    assert {key: joined[key] for key in ("sessionId", "userId", "name", "activeAttendees")} == {
        "sessionId": str(live.id),
        "userId": str(student.id),
        "name": student.name,
        "activeAttendees": 1,
    }
    # The attendee as the REST attendee list shows it (tests/core/test_wire_format.py).
    assert joined["attendee"]["present"] and joined["attendee"]["lastLeftAt"] is None
    assert left["activeAttendees"] == 0
    assert not left["attendee"]["present"] and left["attendee"]["lastLeftAt"]


def test_a_socket_join_needs_a_live_session(session, student):
    with pytest.raises(Conflict) as exc:
        services.attendance_join(actor=student, session_id=session.id, channel_name="c1")
    assert exc.value.code == "session_not_live"


def test_two_sockets_keep_the_user_present_until_the_last_leaves(live, student):
    first = services.attendance_join(actor=student, session_id=live.id, channel_name="tab-1")
    second = services.attendance_join(actor=student, session_id=live.id, channel_name="tab-2")
    assert first.first_socket and not second.first_socket
    out = services.attendance_socket_exit(actor=student, session_id=live.id, channel_name="tab-1", disconnected=True)
    assert not out.left and not out.last_socket
    assert SessionAttendance.objects.get(user=student).present_since is not None
    out = services.attendance_socket_exit(actor=student, session_id=live.id, channel_name="tab-2", disconnected=True)
    assert out.left and out.last_socket
    interval = AttendanceInterval.objects.get(attendance__user=student)
    assert interval.left_reason == "disconnected"
    # A socket the row no longer knows changes nothing.
    again = services.attendance_socket_exit(actor=student, session_id=live.id, channel_name="tab-2")
    assert not again.left


@pytest.mark.django_db(transaction=True)  # attendee frames are written after the commit
def test_rest_leave_forgets_the_sockets_and_moves_them_out(live, student):
    services.attendance_join(actor=student, session_id=live.id, channel_name="tab-1")
    with capture_broadcasts() as sent:
        services.attendance_leave(actor=student, session_id=live.id)
    assert SessionAttendance.objects.get(user=student).socket_channels == []
    assert sent.events() == ["attendee-left", "session-participant-left"]


# -- attendance arithmetic on a frozen clock ---------------------------------------------

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_attendance_seconds_count_only_live_time_over_rejoins(course, instructor, student):
    early, late, ghost = UserFactory(), UserFactory(), UserFactory()
    for user in (early, late, ghost):
        EnrollmentFactory(course=course, user=user)
    with time_machine.travel(_at(-30), tick=False) as clock:
        session = services.live_session_create(
            actor=instructor, title="Arithmetic", scheduled_at=_at(0), duration=60, course_id=course.id
        )
        clock.move_to(_at(-10))
        services.attendance_join(actor=early, session_id=session.id)  # before the start
        services.attendance_join(actor=ghost, session_id=session.id)
        clock.move_to(_at(-5))
        services.attendance_leave(actor=ghost, session_id=session.id)  # left before the start: 0
        clock.move_to(_at(0))
        services.live_session_start(actor=instructor, session_id=session.id)
        clock.move_to(_at(10))
        services.attendance_leave(actor=early, session_id=session.id)  # 10 min live
        clock.move_to(_at(20))
        services.attendance_join(actor=early, session_id=session.id)  # rejoin
        services.attendance_join(actor=late, session_id=session.id)
        clock.move_to(_at(35))
        # mid-session the report counts the open interval up to now
        _, rows = selectors.attendance_report(user=instructor, session_id=session.id)
        by_user = {row["user_id"]: row for row in rows}
        assert by_user[early.id]["attendance_seconds"] == (10 + 15) * 60
        assert by_user[early.id]["present"] is True
        clock.move_to(_at(50))
        services.live_session_end(actor=instructor, session_id=session.id)  # both still present
        clock.move_to(_at(90))
        _, rows = selectors.attendance_report(user=instructor, session_id=session.id)

    by_user = {row["user_id"]: row for row in rows}
    assert by_user[early.id]["attendance_seconds"] == (10 + 30) * 60
    assert by_user[early.id]["joins"] == 2
    assert by_user[early.id]["first_joined_at"] == _at(-10)
    assert by_user[early.id]["last_left_at"] == _at(50)
    assert by_user[early.id]["intervals"] == [
        {"joined_at": _at(-10), "left_at": _at(10)},
        {"joined_at": _at(20), "left_at": _at(50)},
    ]
    assert by_user[late.id]["attendance_seconds"] == 30 * 60
    assert by_user[ghost.id]["attendance_seconds"] == 0
    assert all(row["present"] is False for row in rows)


def test_the_report_is_for_the_owner_and_admins(live, student, admin_user, instructor):
    with pytest.raises(NotAllowed):
        selectors.attendance_report(user=student, session_id=live.id)
    assert selectors.attendance_report(user=admin_user, session_id=live.id)[0] == live
    services.attendance_join(actor=instructor, session_id=live.id)
    _, rows = selectors.attendance_report(user=instructor, session_id=live.id)
    assert rows == []  # the host is not a student in their own report


# -- chat ----------------------------------------------------------------------------------


def test_message_is_stored_and_broadcast_once(live, student, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        message = services.session_message_send(actor=student, session_id=live.id, message="  hello  ")
    assert message.body == "hello"
    assert sent.events() == ["session-new-message"]
    assert sent[0].room == f"session-{live.id}"
    assert sent[0].data == {
        "id": str(message.id),
        "sessionId": str(live.id),
        "userId": str(student.id),
        "name": student.name,
        "message": "hello",
        "sentAt": iso(message.sent_at),
    }


@pytest.mark.django_db(transaction=True)
def test_message_hot_path_is_one_statement_on_postgresql_and_one_read_one_insert_plus_the_outbox_elsewhere(
    live, student
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        services.session_message_send(actor=student, session_id=live.id, message="hi")
    captured = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("BEGIN")]
    assert not any("FOR UPDATE" in sql for sql in captured)
    if connection.vendor == "postgresql":
        # The check, the message, the room's seq and the outbox row in one statement
        # (collab.realtime.fused_write; tests/realtime/test_fused_write.py), then the mark.
        assert [sql.split()[0] for sql in captured] == ["WITH", "UPDATE"]
        return
    commit = captured.index("COMMIT")
    queries, after = captured[:commit], captured[commit + 1 :]
    statements = [sql.split()[0] for sql in queries]
    # The read and the message; then, just before COMMIT, the room's seq (upsert) and the
    # outbox row. Nothing locks but the room's counter row, and only for the commit.
    assert statements == ["SELECT", "INSERT", "INSERT", "INSERT"]
    assert "realtime_roomsequence" in queries[2] and "realtime_roomevent" in queries[3]
    # After it, the send is marked (batched per second in a web process; at once here).
    assert [sql.split()[0] for sql in after] == ["UPDATE"] and "realtime_roomevent" in after[0]


@pytest.mark.parametrize("status", [S.SCHEDULED, S.ENDED, S.CANCELLED])
def test_chat_only_while_live(make_session, student, status):
    with pytest.raises(Conflict) as exc:
        services.session_message_send(actor=student, session_id=make_session(status).id, message="hi")
    assert exc.value.code == "session_not_live"


def test_chat_refuses_outsiders_and_bad_bodies(live, other_student, student):
    with pytest.raises(NotFound):
        services.session_message_send(actor=other_student, session_id=live.id, message="hi")
    with pytest.raises(InvalidInput) as exc:
        services.session_message_send(actor=student, session_id=live.id, message="x" * 2001)
    assert exc.value.code == "invalid" and exc.value.fields == {"message": ["At most 2000 characters."]}
    with pytest.raises(InvalidInput):
        services.session_message_send(actor=student, session_id=live.id, message="   ")
    with pytest.raises(InvalidInput):
        services.session_message_send(actor=student, session_id=live.id, message="a\x00b")
    assert services.session_message_send(actor=student, session_id=live.id, message="x" * 2000)
    assert SessionMessage.objects.count() == 1


def test_moderation_delete_hides_and_tells_the_room(live, student, admin_user, django_capture_on_commit_callbacks):
    message = services.session_message_send(actor=student, session_id=live.id, message="oops")
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        services.session_message_delete(message=message, actor=admin_user)
    assert sent.events() == ["session-message-deleted"]
    assert sent[0].data == {"id": str(message.id), "sessionId": str(live.id)}
    assert selectors.session_messages(session=live, limit=10) == ([], None)
    with pytest.raises(Conflict):
        services.session_message_delete(message=message, actor=admin_user)


def test_check_constraints_back_the_serializer(course):
    from django.db import IntegrityError, transaction

    from tests.liveSessions.factories import live_session

    for bad in ({"duration": 0}, {"capacity": 0}, {"duration": 1441}):
        with pytest.raises(IntegrityError), transaction.atomic():
            live_session(course, **bad)
    assert LiveSession.objects.count() == 0


# -- the overlap rule, checked against counting seconds one by one -----------------------


@given(
    joined=st.integers(0, 300),
    stay=st.integers(0, 300),
    started=st.one_of(st.none(), st.integers(0, 300)),
    length=st.one_of(st.none(), st.integers(0, 300)),
)
def test_live_overlap_counts_exactly_the_live_seconds_present(joined, stay, started, length):
    left = joined + stay
    session = LiveSession(
        started_at=None if started is None else T0 + timedelta(seconds=started),
        ended_at=None if started is None or length is None else T0 + timedelta(seconds=started + length),
    )
    expected = sum(
        1
        for second in range(joined, left)
        if started is not None and second >= started and (length is None or second < started + length)
    )
    got = live_overlap(T0 + timedelta(seconds=joined), T0 + timedelta(seconds=left), session)
    assert got == timedelta(seconds=expected)
