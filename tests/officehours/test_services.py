"""Queue and slot services on PostgreSQL: rules, transitions, positions, estimates and
the broadcasts each change sends (after commit)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.realtime.rooms import user_room
from collab.realtime.testing import capture_broadcasts
from officehours import events, selectors, services
from officehours.models import EntryStatus, OfficeHoursQueue
from tests.factories import CourseFactory, EnrollmentFactory
from tests.officehours.conftest import join

pytestmark = pytest.mark.django_db


def positions(instructor) -> dict:
    return {spot.student_id: spot.position for spot in selectors.waiting_spots(instructor_id=instructor.id).values()}


# -- joining -----------------------------------------------------------------------------


def test_join_gives_position_and_estimate(open_queue, student, enroll):
    (second,) = enroll(1)
    join(student, open_queue)
    join(second, open_queue)
    view = selectors.queue_view_student(student=second, instructor_id=open_queue.id)
    assert view["entry"]["position"] == 2
    assert view["queue_length"] == 2
    assert view["entry"]["estimated_wait_minutes"] == 20  # 2 x the 10-minute default
    assert view["estimated_wait_minutes"] == 20


def test_join_refused_when_closed(instructor, course, student):
    with pytest.raises(Conflict) as err:
        join(student, instructor)
    assert err.value.code == "queue_closed"


def test_join_refused_for_students_of_other_instructors(open_queue, other_student, other_instructor):
    CourseFactory(instructor=other_instructor)
    with pytest.raises(NotAllowed) as err:
        join(other_student, open_queue)
    assert err.value.code == "not_eligible"


def test_instructor_cannot_join_own_queue(open_queue):
    with pytest.raises(NotAllowed):
        join(open_queue, open_queue)


def test_join_unknown_instructor_is_not_found(student, course):
    with pytest.raises(NotFound) as err:
        services.queue_join(actor=student, instructor_id=student.id, question="q")
    assert err.value.code == "instructor_not_found"


def test_one_open_entry_per_student(open_queue, student):
    join(student, open_queue)
    with pytest.raises(Conflict) as err:
        join(student, open_queue)
    assert err.value.code == "already_in_queue"
    entry = OfficeHoursQueue.objects.get(student=student)
    services.queue_admit(actor=open_queue, instructor_id=open_queue.id)
    with pytest.raises(Conflict):
        join(student, open_queue)  # admitted is open too
    services.queue_entry_complete(actor=open_queue, entry_id=entry.id)
    again = join(student, open_queue)  # completed: may queue again
    assert again.status == EntryStatus.WAITING


def test_database_enforces_one_open_entry(open_queue, student):
    from django.db import IntegrityError, transaction

    join(student, open_queue)
    with pytest.raises(IntegrityError), transaction.atomic():
        OfficeHoursQueue.objects.create(
            instructor=open_queue, student=student, question="sneaky", joined_queue_at=datetime.now(UTC)
        )


# -- transitions -------------------------------------------------------------------------

ACTIONS = ["admit", "complete", "leave", "remove", "requeue"]
ALLOWED = {
    ("waiting", "admit"),
    ("waiting", "leave"),
    ("waiting", "remove"),
    ("admitted", "complete"),
    ("admitted", "remove"),
    ("admitted", "requeue"),
}
RESULT = {"admit": "admitted", "complete": "completed", "leave": "left", "remove": "removed", "requeue": "waiting"}


def _entry_in(status: str, instructor, student) -> OfficeHoursQueue:
    entry = join(student, instructor)
    if status == "waiting":
        return entry
    services.queue_admit(actor=instructor, instructor_id=instructor.id, entry_id=entry.id)
    if status == "completed":
        services.queue_entry_complete(actor=instructor, entry_id=entry.id)
    elif status == "left":
        services.queue_entry_requeue(actor=instructor, entry_id=entry.id)
        services.queue_leave(actor=student, instructor_id=instructor.id)
    elif status == "removed":
        services.queue_entry_remove(actor=instructor, entry_id=entry.id, reason="spam")
    entry.refresh_from_db()
    assert entry.status == status
    return entry


def _act(action: str, entry: OfficeHoursQueue, instructor, student):
    if action == "admit":
        return services.queue_admit(actor=instructor, instructor_id=instructor.id, entry_id=entry.id)
    if action == "complete":
        return services.queue_entry_complete(actor=instructor, entry_id=entry.id)
    if action == "leave":
        return services.queue_leave(actor=student, instructor_id=instructor.id)
    if action == "remove":
        return services.queue_entry_remove(actor=instructor, entry_id=entry.id, reason="Out of time")
    return services.queue_entry_requeue(actor=instructor, entry_id=entry.id)


@pytest.mark.parametrize("status", ["waiting", "admitted", "completed", "left", "removed"])
@pytest.mark.parametrize("action", ACTIONS)
def test_transition_matrix(status, action, open_queue, student):
    entry = _entry_in(status, open_queue, student)
    if (status, action) in ALLOWED:
        _act(action, entry, open_queue, student)
        entry.refresh_from_db()
        assert entry.status == RESULT[action]
    else:
        with pytest.raises(Conflict) as err:
            _act(action, entry, open_queue, student)
        assert err.value.code in {"invalid_transition", "not_in_queue"}
        entry.refresh_from_db()
        assert entry.status == status


def test_requeue_keeps_original_place(open_queue, student, enroll):
    others = enroll(2)
    first = join(student, open_queue)
    for other in others:
        join(other, open_queue)
    services.queue_admit(actor=open_queue, instructor_id=open_queue.id)
    assert positions(open_queue) == {others[0].id: 1, others[1].id: 2}
    services.queue_entry_requeue(actor=open_queue, entry_id=first.id)
    first.refresh_from_db()
    assert first.admitted_at is None
    assert positions(open_queue) == {student.id: 1, others[0].id: 2, others[1].id: 3}


def test_admit_next_is_first_come_first_served_and_empty_queue_refused(open_queue, enroll):
    a, b = enroll(2)
    join(a, open_queue)
    join(b, open_queue)
    assert services.queue_admit(actor=open_queue, instructor_id=open_queue.id).student_id == a.id
    assert services.queue_admit(actor=open_queue, instructor_id=open_queue.id).student_id == b.id
    with pytest.raises(Conflict) as err:
        services.queue_admit(actor=open_queue, instructor_id=open_queue.id)
    assert err.value.code == "queue_empty"


def test_admit_entry_of_another_queue_is_not_found(open_queue, student, other_instructor):
    entry = join(student, open_queue)
    services.queue_open(actor=other_instructor, instructor_id=other_instructor.id)
    with pytest.raises(NotFound):
        services.queue_admit(actor=other_instructor, instructor_id=other_instructor.id, entry_id=entry.id)


def test_only_the_instructor_or_admin_manages(open_queue, student, other_instructor, admin_user):
    entry = join(student, open_queue)
    with pytest.raises(NotAllowed):
        services.queue_admit(actor=other_instructor, instructor_id=open_queue.id)
    with pytest.raises(NotFound):
        services.queue_entry_remove(actor=other_instructor, entry_id=entry.id, reason="x")
    with pytest.raises(NotAllowed):  # own entry: visible, not theirs to act on
        services.queue_entry_remove(actor=student, entry_id=entry.id, reason="x")
    services.queue_entry_remove(actor=admin_user, entry_id=entry.id, reason="moderation")


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


def test_unenrolled_student_can_still_leave(open_queue, student, course):
    join(student, open_queue)
    EnrollmentFactory._meta.model.objects.filter(user=student).delete()
    assert services.queue_leave(actor=student, instructor_id=open_queue.id).status == EntryStatus.LEFT


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
