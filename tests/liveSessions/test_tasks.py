"""Beat's work: reminders exactly once, ending-soon then auto-end after the grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from collab.core.jsonframes import iso
from liveSessions import services, tasks
from liveSessions.models import AttendanceInterval, LiveSession, SessionStatus
from tests.liveSessions.factories import live_session

pytestmark = pytest.mark.django_db(transaction=True)

S = SessionStatus
T0 = datetime(2030, 5, 6, 14, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def captured():
    from collab.realtime.testing import capture_broadcasts

    with capture_broadcasts() as sent:
        yield sent


def test_reminder_is_sent_once_inside_the_window(course, captured, settings):
    settings.LIVE_SESSION_REMINDER_MINUTES = 10
    with time_machine.travel(at(-30), tick=False) as clock:
        soon = live_session(course, scheduled_at=at(0))
        later = live_session(course, scheduled_at=at(60))
        assert tasks.live_session_send_reminders() == 0  # 30 min before: too early
        clock.move_to(at(-9))
        assert tasks.live_session_send_reminders.apply().get() == 1
        assert tasks.live_session_send_reminders() == 0  # the second run sends nothing
        clock.move_to(at(-1))
        assert tasks.live_session_send_reminders() == 0

    reminders = captured.named("live-session-starting-soon")
    assert len(reminders) == 1
    assert reminders[0].room == f"course-{course.id}"
    assert reminders[0].data["sessionId"] == str(soon.id)
    assert reminders[0].data["minutesUntilStart"] == 9
    assert LiveSession.objects.get(id=later.id).reminder_sent_at is None


def test_no_reminder_for_started_cancelled_or_long_past_sessions(course, captured, settings):
    settings.LIVE_SESSION_REMINDER_MINUTES = 10
    with time_machine.travel(at(-5), tick=False):
        live_session(course, scheduled_at=at(0), status=S.CANCELLED)
        live_session(course, scheduled_at=at(0), status=S.LIVE, started_at=at(-6))
        live_session(course, scheduled_at=at(-60))  # never started, long past
        assert tasks.live_session_send_reminders() == 0
    assert captured.named("live-session-starting-soon") == []


def test_open_session_reminds_its_instructor(instructor, captured):
    with time_machine.travel(at(-5), tick=False):
        live_session(None, instructor=instructor, scheduled_at=at(0))
        assert tasks.live_session_send_reminders() == 1
    assert captured[0].room == f"user-{instructor.id}"


def test_reminders_racing_each_other_send_once(course, captured):
    import threading

    from django.db import connection

    with time_machine.travel(at(-5), tick=False):
        live_session(course, scheduled_at=at(0))
        results = []

        def run():
            results.append(tasks.live_session_send_reminders())
            connection.close()

        threads = [threading.Thread(target=run) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not [thread for thread in threads if thread.is_alive()], "a thread hung"
    assert sum(results) == 1
    assert len(captured.named("live-session-starting-soon")) == 1


def test_auto_end_warns_five_minutes_before_then_ends_after_the_grace(course, instructor, student, captured, settings):
    settings.LIVE_SESSION_AUTO_END_GRACE = 30
    with time_machine.travel(at(0), tick=False) as clock:
        session = live_session(course, scheduled_at=at(0), duration=60)
        services.live_session_start(actor=instructor, session_id=session.id)
        services.attendance_join(actor=student, session_id=session.id)
        clock.move_to(at(60 + 24))  # planned end + 24 min: nothing yet
        assert tasks.live_session_auto_end_overdue() == {"warned": 0, "ended": 0}
        clock.move_to(at(60 + 25))  # 5 min before the auto-end
        assert tasks.live_session_auto_end_overdue() == {"warned": 1, "ended": 0}
        assert tasks.live_session_auto_end_overdue() == {"warned": 0, "ended": 0}
        clock.move_to(at(60 + 29.9))
        assert tasks.live_session_auto_end_overdue.apply().get() == {"warned": 0, "ended": 0}
        clock.move_to(at(60 + 30))
        assert tasks.live_session_auto_end_overdue() == {"warned": 0, "ended": 1}
        assert tasks.live_session_auto_end_overdue() == {"warned": 0, "ended": 0}

    session.refresh_from_db()
    assert session.status == S.ENDED
    assert session.ended_at == at(90)
    assert not AttendanceInterval.objects.filter(left_at__isnull=True).exists()
    warnings = captured.named("session-ending-soon")
    assert [w.room for w in warnings] == [f"course-{course.id}", f"session-{session.id}"]
    assert warnings[0].data == {"sessionId": str(session.id), "autoEndAt": iso(at(90)), "minutesLeft": 5}
    # Ended by the same service as a manual end: same events, same rooms.
    ended = captured.named("session-ended")
    assert [e.room for e in ended] == [f"course-{course.id}", f"session-{session.id}"]
    assert ended[0].data["endedAt"] == iso(at(90))


def test_a_late_start_is_not_cut_short(course, instructor, settings):
    settings.LIVE_SESSION_AUTO_END_GRACE = 30
    with time_machine.travel(at(0), tick=False) as clock:
        session = live_session(course, scheduled_at=at(1), duration=60)
        clock.move_to(at(61))  # an hour late
        services.live_session_start(actor=instructor, session_id=session.id)
        clock.move_to(at(61 + 60 + 29))
        assert tasks.live_session_auto_end_overdue()["ended"] == 0
        clock.move_to(at(61 + 60 + 30))
        assert tasks.live_session_auto_end_overdue()["ended"] == 1


def test_auto_end_leaves_scheduled_and_manually_ended_sessions_alone(course, instructor, settings):
    settings.LIVE_SESSION_AUTO_END_GRACE = 30
    with time_machine.travel(at(500), tick=False):
        live_session(course, scheduled_at=at(0), duration=60)
        done = live_session(course, scheduled_at=at(0), duration=60, status=S.ENDED, ended_at=at(61))
        assert tasks.live_session_auto_end_overdue() == {"warned": 0, "ended": 0}
    done.refresh_from_db()
    assert done.ended_at == at(61)
