"""Services: joining and leaving a live session: by status, counted once, capacity, the
host never taking a seat, who may join, the session room told, sockets keeping a user present."""

from __future__ import annotations

import pytest

from collab.core.errors import Conflict, NotFound
from collab.realtime.testing import capture_broadcasts
from liveSessions import services
from liveSessions.models import (
    AttendanceInterval,
    SessionAttendance,
)
from tests.factories import EnrollmentFactory
from tests.liveSessions.conftest import S

pytestmark = pytest.mark.django_db


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
