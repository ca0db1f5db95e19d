"""The beat task: queues open and close by the clock, in the slot's own time zone, across
slot boundaries (frozen time), with the broadcasts; running it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
import time_machine

from collab.realtime.rooms import course_room, user_room
from collab.realtime.testing import capture_broadcasts
from officehours import events, selectors, services
from officehours.models import EntryStatus, OfficeHoursQueue, OfficeHoursQueueState
from officehours.tasks import office_hours_tick
from tests.officehours.conftest import join

pytestmark = pytest.mark.django_db

# Sunday 00:30-01:30 in Tokyo (UTC+9) is Saturday 15:30-16:30 UTC: the day counts in the
# slot's zone, and 0 means Sunday.
SAT = datetime(2026, 3, 7, tzinfo=UTC)


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return SAT.replace(hour=hour, minute=minute, second=second)


@pytest.fixture
def tokyo_slot(instructor, course):
    with time_machine.travel(at(12, 0), tick=False):
        return services.office_hours_create(
            actor=instructor, day_of_week=0, start_time=time(0, 30), end_time=time(1, 30), timezone="Asia/Tokyo"
        )


def tick(when: datetime, capture):
    with time_machine.travel(when, tick=False), capture_broadcasts() as sent, capture(execute=True):
        result = office_hours_tick()  # the Celery task body, called directly
    return sent, result


def test_tick_opens_and_closes_at_slot_boundaries_in_the_slots_time_zone(
    tokyo_slot, instructor, course, student, enroll, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    (second,) = enroll(1)

    sent, _ = tick(at(15, 29, 30), capture)
    assert sent == [] and not selectors.queue_is_open(instructor_id=instructor.id, now=at(15, 29, 30))

    sent, result = tick(at(15, 30, 20), capture)
    opened = sent.named(events.OPENED)
    assert {b.room for b in opened} == {events.office_hours_room(instructor.id), course_room(course.id)}
    assert opened[0].data["isOpen"] is True and opened[0].data["manual"] is False
    assert result["changed"] == 1
    assert OfficeHoursQueueState.objects.get(instructor=instructor).is_open

    sent, result = tick(at(15, 30, 50), capture)  # idempotent
    assert sent == [] and result["changed"] == 0

    with time_machine.travel(at(15, 45), tick=False):
        first_entry = join(student, instructor)
        second_entry = join(second, instructor)
        services.queue_admit(actor=instructor, instructor_id=instructor.id)

    sent, _ = tick(at(16, 29, 59), capture)
    assert sent == []

    sent, result = tick(at(16, 30, 25), capture)
    assert {b.room for b in sent.named(events.CLOSED)} == {
        events.office_hours_room(instructor.id),
        course_room(course.id),
    }
    (removed,) = sent.named(events.REMOVED)
    assert removed.room == user_room(second.id)
    assert removed.data == {
        "instructorId": str(instructor.id),
        "entryId": str(second_entry.id),
        "reason": "office_hours_ended",
    }
    assert sent.named(events.QUEUE_UPDATED)[0].room == user_room(instructor.id)
    second_entry.refresh_from_db()
    first_entry.refresh_from_db()
    assert second_entry.status == EntryStatus.REMOVED and second_entry.removed_reason == "office_hours_ended"
    assert first_entry.status == EntryStatus.ADMITTED  # being served: the instructor finishes

    sent, result = tick(at(16, 31), capture)
    assert sent == [] and result["changed"] == 0


def test_hand_opened_queue_survives_the_slot_end(tokyo_slot, instructor, student, django_capture_on_commit_callbacks):
    tick(at(15, 31), django_capture_on_commit_callbacks)
    with time_machine.travel(at(15, 40), tick=False):
        services.queue_open(actor=instructor, instructor_id=instructor.id)
        entry = join(student, instructor)
    sent, _ = tick(at(16, 31), django_capture_on_commit_callbacks)
    assert sent == []
    entry.refresh_from_db()
    assert entry.status == EntryStatus.WAITING
    assert selectors.queue_is_open(instructor_id=instructor.id, now=at(16, 31))
    # Closing by hand after the slot: the office hours are over, the student is told.
    with time_machine.travel(at(17, 0), tick=False), capture_broadcasts() as sent:
        with django_capture_on_commit_callbacks(execute=True):
            services.queue_close(actor=instructor, instructor_id=instructor.id)
    assert sent.named(events.REMOVED)[0].room == user_room(student.id)


def test_a_join_right_after_the_slot_end_is_refused_before_the_tick_runs(tokyo_slot, instructor, student):
    from collab.core.errors import Conflict

    with time_machine.travel(at(15, 31), tick=False):
        services.office_hours_tick()
    with time_machine.travel(at(16, 30, 1), tick=False), pytest.raises(Conflict) as err:
        join(student, instructor)
    assert err.value.code == "queue_closed"


def test_inactive_slot_does_not_open_the_queue(tokyo_slot, instructor, django_capture_on_commit_callbacks):
    services.office_hours_update(actor=instructor, office_hours_id=tokyo_slot.id, is_active=False)
    sent, _ = tick(at(15, 45), django_capture_on_commit_callbacks)
    assert sent.named(events.OPENED) == []


def test_dst_switch_keeps_wall_clock_times():
    """Sunday 09:00-10:00 in New York: 14:00 UTC before the March switch, 13:00 UTC after."""
    from officehours.models import OfficeHours
    from officehours.schedule import occurrence_at

    slot = OfficeHours(day_of_week=0, start_time=time(9), end_time=time(10), timezone="America/New_York")
    before = occurrence_at(slot, datetime(2026, 3, 1, 14, 30, tzinfo=UTC))
    after = occurrence_at(slot, datetime(2026, 3, 8, 13, 30, tzinfo=UTC))
    assert before and before.starts_at == datetime(2026, 3, 1, 14, 0, tzinfo=UTC)
    assert after and after.starts_at == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert occurrence_at(slot, datetime(2026, 3, 8, 14, 30, tzinfo=UTC)) is None


def test_celery_task_name_and_eager_run(tokyo_slot, instructor):
    assert office_hours_tick.name == "officehours.tasks.office_hours_tick"
    with time_machine.travel(at(15, 45), tick=False):
        office_hours_tick.apply().get()
    assert OfficeHoursQueueState.objects.get(instructor=instructor).is_open
    assert OfficeHoursQueue.objects.count() == 0
