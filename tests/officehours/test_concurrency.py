"""Invariants under real concurrency on PostgreSQL: each thread has its own connection
and transaction; the instructor's state-row lock and the partial unique constraint do
the work."""

from __future__ import annotations

import pytest

from collab.core.errors import Conflict
from collab.courses.models import EnrollmentRole
from officehours import selectors, services
from officehours.models import EntryStatus, OfficeHoursQueue
from tests.concurrency import run_at_once
from tests.factories import EnrollmentFactory, UserFactory
from tests.officehours.conftest import join

pytestmark = pytest.mark.django_db(transaction=True)


def test_thirty_simultaneous_joins_get_places_one_to_thirty(open_queue, enroll):
    students = enroll(30)
    results = run_at_once([lambda s=s: join(s, open_queue) for s in students])
    assert all(isinstance(r, OfficeHoursQueue) for r in results), results
    # The place each student was told when joining: 1..30, no two the same.
    assert sorted(r.position for r in results) == list(range(1, 31))
    assert sorted(r.estimated_wait_minutes for r in results) == [10 * p for p in range(1, 31)]
    spots = selectors.waiting_spots(instructor_id=open_queue.id)
    assert sorted(spot.position for spot in spots.values()) == list(range(1, 31))
    assert {spot.student_id for spot in spots.values()} == {s.id for s in students}
    # Places follow join order: joinedQueueAt strictly increases with the position.
    ordered = list(
        OfficeHoursQueue.objects.filter(instructor=open_queue, status="waiting").order_by("joined_queue_at", "id")
    )
    assert len({e.joined_queue_at for e in ordered}) == 30
    told = {r.student_id: r.position for r in results}
    assert [told[e.student_id] for e in ordered] == list(range(1, 31))


def test_same_student_joining_twice_at_once_gets_one_entry(open_queue, student):
    results = run_at_once([lambda: join(student, open_queue) for _ in range(5)])
    assert sum(isinstance(r, OfficeHoursQueue) for r in results) == 1
    assert all(
        isinstance(r, Conflict) and r.code == "already_in_queue" for r in results if not isinstance(r, OfficeHoursQueue)
    )
    assert OfficeHoursQueue.objects.filter(student=student).count() == 1


def test_five_concurrent_admit_next_admit_five_different_students(open_queue, enroll):
    students = enroll(10)
    for learner in students:
        join(learner, open_queue)
    results = run_at_once(
        [lambda: services.queue_admit(actor=open_queue, instructor_id=open_queue.id) for _ in range(5)]
    )
    assert all(isinstance(r, OfficeHoursQueue) for r in results), results
    admitted = {r.student_id for r in results}
    assert len(admitted) == 5
    # First come, first served: the five who joined first.
    assert admitted == {s.id for s in students[:5]}
    assert OfficeHoursQueue.objects.filter(status=EntryStatus.ADMITTED).count() == 5
    assert sorted(s.position for s in selectors.waiting_spots(instructor_id=open_queue.id).values()) == [1, 2, 3, 4, 5]


def test_admit_next_and_leave_race_never_admits_a_student_who_left(open_queue, enroll):
    a, b = enroll(2)
    join(a, open_queue)
    join(b, open_queue)
    results = run_at_once(
        [
            lambda: services.queue_leave(actor=a, instructor_id=open_queue.id),
            lambda: services.queue_admit(actor=open_queue, instructor_id=open_queue.id),
        ]
    )
    entry_a = OfficeHoursQueue.objects.get(student=a)
    left, admitted = results
    if isinstance(left, OfficeHoursQueue):  # the leave won: b was admitted
        assert entry_a.status == "left" and admitted.student_id == b.id
    else:  # the admit won: a is admitted and can no longer leave
        assert isinstance(left, Conflict) and entry_a.status == "admitted"


def test_two_staff_admitting_at_once_get_two_different_students(open_queue, course, enroll):
    """The instructor and a TA press "admit next" at the same moment, many times over."""
    ta = UserFactory(name="TA")
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    students = enroll(12)
    for learner in students:
        join(learner, open_queue)
    admitted: list = []
    for _ in range(6):
        results = run_at_once(
            [
                lambda: services.queue_admit(actor=open_queue, instructor_id=open_queue.id),
                lambda: services.queue_admit(actor=ta, instructor_id=open_queue.id),
            ]
        )
        assert all(isinstance(r, OfficeHoursQueue) for r in results), results
        first, second = results
        assert first.student_id != second.student_id
        assert {first.admitted_by_id, second.admitted_by_id} == {open_queue.id, ta.id}
        admitted += [first.student_id, second.student_id]
    assert sorted(map(str, admitted)) == sorted(str(s.id) for s in students)
    assert OfficeHoursQueue.objects.filter(status=EntryStatus.ADMITTED).count() == 12
