"""Queue services on PostgreSQL: when the queue is open: by hand (also during a slot), by
slots (their rules, deleting the slot in progress), clearing it, and the timezone setting."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
import time_machine

from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.realtime.rooms import user_room
from collab.realtime.testing import capture_broadcasts
from officehours import events, selectors, services
from officehours.models import EntryStatus, OfficeHoursQueue
from tests.officehours.conftest import join

pytestmark = pytest.mark.django_db


# -- open / close by hand ----------------------------------------------------------------


def test_open_close_by_hand(instructor, course, student, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        state = services.queue_open(actor=instructor, instructor_id=instructor.id)
    assert state.is_open and state.manually_opened
    assert {item.room for item in sent.named(events.OPENED)} == {
        events.office_hours_room(instructor.id),
        f"course-{course.id}",
    }
    with pytest.raises(Conflict) as err:
        services.queue_open(actor=instructor, instructor_id=instructor.id)
    assert err.value.code == "already_open"
    join(student, instructor)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        state = services.queue_close(actor=instructor, instructor_id=instructor.id)
    assert not state.is_open
    # No slot in progress: closing ends the office hours, the waiting student is told.
    (removed,) = sent.named(events.REMOVED)
    assert removed.room == user_room(student.id) and removed.data["reason"] == events.REASON_ENDED
    assert sent.named(events.CLOSED)
    with pytest.raises(Conflict) as err:
        services.queue_close(actor=instructor, instructor_id=instructor.id)
    assert err.value.code == "already_closed"


def test_close_by_hand_during_a_slot_keeps_waiting_until_the_slot_ends(instructor, course, student, enroll):
    (late,) = enroll(1)
    monday_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    with time_machine.travel(monday_10, tick=False) as clock:
        services.office_hours_create(actor=instructor, day_of_week=1, start_time=time(9), end_time=time(11))
        assert selectors.queue_is_open(instructor_id=instructor.id)
        entry = join(student, instructor)
        services.queue_close(actor=instructor, instructor_id=instructor.id)
        assert not selectors.queue_is_open(instructor_id=instructor.id)
        entry.refresh_from_db()
        assert entry.status == EntryStatus.WAITING  # still served while the slot lasts
        with pytest.raises(Conflict) as err:
            join(late, instructor)
        assert err.value.code == "queue_closed"
        clock.move_to(datetime(2026, 3, 2, 11, 0, 30, tzinfo=UTC))
        services.office_hours_tick()
        entry.refresh_from_db()
        assert entry.status == EntryStatus.REMOVED and entry.removed_reason == events.REASON_ENDED
        # The next Monday's slot opens it again.
        clock.move_to(datetime(2026, 3, 9, 9, 0, 10, tzinfo=UTC))
        services.office_hours_tick()
        assert selectors.queue_is_open(instructor_id=instructor.id)


# -- slots -------------------------------------------------------------------------------


def test_slot_rules(instructor, student, other_instructor):
    with pytest.raises(NotAllowed):
        services.office_hours_create(actor=student, day_of_week=1, start_time=time(9), end_time=time(10))
    with pytest.raises(InvalidInput) as err:
        services.office_hours_create(
            actor=instructor, day_of_week=7, start_time=time(10), end_time=time(9), timezone="Mars/Olympus"
        )
    assert set(err.value.fields) == {"dayOfWeek", "endTime", "timezone"}
    slot = services.office_hours_create(
        actor=instructor, day_of_week=1, start_time=time(9), end_time=time(10), timezone="Asia/Tokyo"
    )
    with pytest.raises(InvalidInput):  # merged with the stored start time
        services.office_hours_update(actor=instructor, office_hours_id=slot.id, end_time=time(8))
    with pytest.raises(NotAllowed):
        services.office_hours_update(actor=other_instructor, office_hours_id=slot.id, location="x")
    with pytest.raises(InvalidInput) as unknown:  # a caller other than the API (the admin, a task)
        services.office_hours_update(actor=instructor, office_hours_id=slot.id, meeting_link="x")
    assert unknown.value.fields == {"meetingLink": ["Unknown field."]}
    assert unknown.value.message == "meetingLink: Unknown field."
    updated = services.office_hours_update(actor=instructor, office_hours_id=slot.id, location="Lab 3")
    assert updated.location == "Lab 3"
    with pytest.raises(NotAllowed):
        services.office_hours_delete(actor=other_instructor, office_hours_id=slot.id)
    services.office_hours_delete(actor=instructor, office_hours_id=slot.id)
    with pytest.raises(NotFound):
        services.office_hours_delete(actor=instructor, office_hours_id=slot.id)


def test_queue_clear_removes_waiting_and_keeps_admitted(open_queue, enroll, admin_user):
    a, b, c = enroll(3)
    for learner in (a, b, c):
        join(learner, open_queue)
    services.queue_admit(actor=open_queue, instructor_id=open_queue.id)
    assert services.queue_clear(actor=admin_user, instructor_id=open_queue.id, reason="Fire drill") == 2
    statuses = dict(OfficeHoursQueue.objects.values_list("student_id", "status"))
    assert statuses == {a.id: "admitted", b.id: "removed", c.id: "removed"}
    assert set(OfficeHoursQueue.objects.filter(status="removed").values_list("removed_reason", flat=True)) == {
        "Fire drill"
    }


def test_deleting_the_slot_in_progress_closes_the_queue_and_ends_the_wait(
    instructor, course, student, django_capture_on_commit_callbacks
):
    monday_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    with time_machine.travel(monday_10, tick=False):
        slot = services.office_hours_create(actor=instructor, day_of_week=1, start_time=time(9), end_time=time(11))
        entry = join(student, instructor)
        with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
            services.office_hours_delete(actor=instructor, office_hours_id=slot.id)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.REMOVED and entry.removed_reason == events.REASON_ENDED
    assert sent.named(events.CLOSED) and sent.named(events.SCHEDULE_UPDATED)
    assert sent.named(events.SCHEDULE_UPDATED)[0].data["slots"] == []


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("UTC", True),
        ("Europe/Berlin", True),
        ("America/Argentina/Buenos_Aires", True),
        ("Mars/Base", False),
        ("", False),
        ("localtime", False),
        ("/etc/localtime", False),
        ("../zoneinfo/UTC", False),
        ("europe/berlin", False),
    ],
)
def test_timezone_validation(name, valid):
    from officehours.schedule import is_valid_timezone

    assert is_valid_timezone(name) is valid
