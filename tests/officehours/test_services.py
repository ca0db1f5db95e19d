"""Queue services on PostgreSQL: joining (who may, one open entry per student, enforced by
the database too) and an entry's transitions (the matrix, requeue, admit next, who manages)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collab.core.errors import Conflict, NotAllowed, NotFound
from officehours import selectors, services
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


def test_unenrolled_student_can_still_leave(open_queue, student, course):
    join(student, open_queue)
    EnrollmentFactory._meta.model.objects.filter(user=student).delete()
    assert services.queue_leave(actor=student, instructor_id=open_queue.id).status == EntryStatus.LEFT
