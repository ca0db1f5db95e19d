"""Services: attendance arithmetic on a frozen clock (only live time counts, over rejoins),
who may read the report, and the overlap rule checked against counting seconds one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from collab.core.errors import NotAllowed
from liveSessions import selectors, services
from liveSessions.models import (
    LiveSession,
    live_overlap,
)
from tests.factories import EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db


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
