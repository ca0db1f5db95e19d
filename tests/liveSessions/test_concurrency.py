"""Capacity and one-row-per-user under real concurrency, on PostgreSQL with threads."""

from __future__ import annotations

import pytest

from collab.core.errors import Conflict
from liveSessions import services
from liveSessions.models import AttendanceInterval, SessionAttendance, SessionStatus
from tests.concurrency import run_at_once
from tests.factories import EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_join_a_ten_seat_session_at_once_and_exactly_ten_get_in(course):
    session = live_session(course, status=SessionStatus.LIVE, capacity=10)
    users = [UserFactory() for _ in range(50)]
    for user in users:
        EnrollmentFactory(course=course, user=user)

    results = run_at_once([lambda u=u: services.attendance_join(actor=u, session_id=session.id) for u in users])

    joined = [r for r in results if isinstance(r, services.JoinOutcome)]
    refused = [r for r in results if isinstance(r, Conflict)]
    other = [r for r in results if not isinstance(r, (services.JoinOutcome, Conflict))]
    assert not other, f"{len(other)} joins neither joined nor were refused: {other[:3]!r}"
    assert len(joined) == 10
    assert len(refused) == 40
    assert {r.code for r in refused} == {"session_full"}
    assert SessionAttendance.objects.filter(session=session, present_since__isnull=False).count() == 10
    assert AttendanceInterval.objects.filter(attendance__session=session, left_at__isnull=True).count() == 10


def test_one_user_joining_twenty_times_at_once_gets_one_row_and_one_open_interval(course, student):
    session = live_session(course, status=SessionStatus.LIVE, capacity=10)

    results = run_at_once([lambda: services.attendance_join(actor=student, session_id=session.id)] * 20)

    assert all(isinstance(r, services.JoinOutcome) for r in results), results
    assert sum(r.newly_present for r in results) == 1
    assert SessionAttendance.objects.filter(session=session, user=student).count() == 1
    assert AttendanceInterval.objects.filter(attendance__session=session).count() == 1


def test_joins_racing_the_end_leave_no_open_interval(course):
    session = live_session(course, status=SessionStatus.LIVE)
    users = [UserFactory() for _ in range(15)]
    for user in users:
        EnrollmentFactory(course=course, user=user)

    calls = [lambda u=u: services.attendance_join(actor=u, session_id=session.id) for u in users]
    calls.append(lambda: services.live_session_end(actor=course.instructor, session_id=session.id))
    results = run_at_once(calls)

    # Every join either came before the end (and was closed by it) or was refused after it.
    assert all(isinstance(r, (services.JoinOutcome, Conflict)) for r in results[:-1]), results
    assert not AttendanceInterval.objects.filter(attendance__session=session, left_at__isnull=True).exists()
