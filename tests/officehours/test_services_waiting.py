"""Queue services on PostgreSQL: what waiting students are told: the estimated wait (mean of
the last ten, whole minutes) and the broadcasts each change sends after commit (positions,
estimates, the admitted frame, nothing on a refused change)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from collab.core.errors import Conflict
from collab.realtime.rooms import user_room
from collab.realtime.testing import capture_broadcasts
from officehours import events, selectors, services
from officehours.models import OfficeHoursQueue
from tests.officehours.conftest import join

pytestmark = pytest.mark.django_db


# -- estimated wait ----------------------------------------------------------------------


def test_estimate_uses_mean_of_last_ten_completed(open_queue, enroll):
    students = enroll(13)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        # 11 served entries: the first took 60 minutes (outside the last 10), then 10 x 4 minutes.
        for index, learner in enumerate(students[:11]):
            entry = join(learner, open_queue)
            services.queue_admit(actor=open_queue, instructor_id=open_queue.id, entry_id=entry.id)
            clock.shift(timedelta(minutes=60 if index == 0 else 4))
            services.queue_entry_complete(actor=open_queue, entry_id=entry.id)
        join(students[11], open_queue)
        join(students[12], open_queue)
    assert selectors.mean_service_minutes(instructor_id=open_queue.id) == pytest.approx(4.0)
    view = selectors.queue_view_student(student=students[12], instructor_id=open_queue.id)
    assert view["entry"]["position"] == 2
    assert view["entry"]["estimated_wait_minutes"] == 8


def test_estimate_rounds_up_to_whole_minutes():
    assert selectors.estimate_minutes(3, 2.5) == 8
    assert selectors.estimate_minutes(2, 10.0) == 20
    assert selectors.estimate_minutes(1, 0.01) == 1


# -- broadcasts --------------------------------------------------------------------------


def test_only_students_whose_position_changed_hear_about_it(open_queue, enroll, django_capture_on_commit_callbacks):
    a, b, c = enroll(3)
    for learner in (a, b, c):
        join(learner, open_queue)
    entry_b = OfficeHoursQueue.objects.get(student=b)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        services.queue_leave(actor=b, instructor_id=open_queue.id)
    moved = sent.named(events.POSITION_CHANGED)
    assert [item.room for item in moved] == [user_room(c.id)]
    assert moved[0].data["position"] == 2 and moved[0].data["estimatedWaitMinutes"] == 20
    left = sent.named(events.STUDENT_LEFT)
    assert left[0].room == user_room(open_queue.id) and left[0].data["entryId"] == str(entry_b.id)
    assert sent.named(events.QUEUE_UPDATED)[0].room == user_room(open_queue.id)
    assert sent.named(events.QUEUE_LENGTH)[0].data["queueLength"] == 2
    assert not sent.to_room(user_room(a.id))

    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        admitted = services.queue_admit(actor=open_queue, instructor_id=open_queue.id)
    assert admitted.student_id == a.id
    assert [item.event for item in sent.to_room(user_room(a.id))] == [events.ADMITTED]
    assert set(sent.to_room(user_room(c.id)).__iter__().__next__().data) >= {"position", "estimatedWaitMinutes"}
    assert events.UP_NEXT in [item.event for item in sent.to_room(user_room(c.id))]


def test_completion_changes_estimates_of_everyone_waiting(open_queue, enroll, django_capture_on_commit_callbacks):
    a, b, c = enroll(3)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        for learner in (a, b, c):
            join(learner, open_queue)
        services.queue_admit(actor=open_queue, instructor_id=open_queue.id)
        clock.shift(timedelta(minutes=3))
        entry_a = OfficeHoursQueue.objects.get(student=a)
        with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
            services.queue_entry_complete(actor=open_queue, entry_id=entry_a.id)
    changed = {item.room: item.data for item in sent.named(events.POSITION_CHANGED)}
    assert changed == {
        user_room(b.id): {
            "instructorId": str(open_queue.id),
            "entryId": str(OfficeHoursQueue.objects.get(student=b).id),
            "position": 1,
            "estimatedWaitMinutes": 3,
        },
        user_room(c.id): {
            "instructorId": str(open_queue.id),
            "entryId": str(OfficeHoursQueue.objects.get(student=c).id),
            "position": 2,
            "estimatedWaitMinutes": 6,
        },
    }
    assert sent.named(events.COMPLETED)[0].room == user_room(a.id)


def test_admitted_frame_carries_the_current_slot(instructor, course, student, django_capture_on_commit_callbacks):
    monday_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
    with time_machine.travel(monday_10, tick=False):
        services.office_hours_create(
            actor=instructor,
            day_of_week=1,
            start_time=time(9),
            end_time=time(11),
            location="Room 101",
            meeting_url="https://meet.example/abc",
        )
        entry = join(student, instructor)
        with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
            services.queue_admit(actor=instructor, instructor_id=instructor.id)
    (frame,) = sent.named(events.ADMITTED)
    assert frame.data == {
        "instructorId": str(instructor.id),
        "entryId": str(entry.id),
        "meetingUrl": "https://meet.example/abc",
        "location": "Room 101",
        "admittedBy": {"id": str(instructor.id), "name": instructor.name},
    }


def test_nothing_is_sent_when_a_change_is_refused(open_queue, student, django_capture_on_commit_callbacks):
    join(student, open_queue)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(Conflict):
            join(student, open_queue)
    assert sent == []
