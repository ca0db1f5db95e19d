"""A Hypothesis state machine drives the real services on PostgreSQL (join, leave,
admit next / admit one, complete, remove, requeue) and compares the queue with a
simple in-memory model after every step: statuses, positions, refusals, the one-open-
entry rule and what each student's own view shows."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from collab.core.errors import Conflict
from officehours import selectors, services
from officehours.models import OfficeHoursQueue
from tests.factories import CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory

STUDENTS = 4


class QueueMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.instructor = InstructorFactory()
        course = CourseFactory(instructor=self.instructor)
        self.students = [UserFactory() for _ in range(STUDENTS)]
        for learner in self.students:
            EnrollmentFactory(course=course, user=learner)
        services.queue_open(actor=self.instructor, instructor_id=self.instructor.id)
        # The model: each student's open entry as (status, join order); closed entries vanish.
        self.open: dict[int, tuple[str, int]] = {}
        self.entry_ids: dict[int, object] = {}
        self.clock = 0

    # -- model helpers ----------------------------------------------------------------

    def waiting_order(self) -> list[int]:
        return [i for i, (status, _) in sorted(self.open.items(), key=lambda kv: kv[1][1]) if status == "waiting"]

    def expect(self, allowed: bool, action) -> bool:
        if allowed:
            action()
            return True
        with pytest.raises(Conflict):
            action()
        return False

    # -- rules ------------------------------------------------------------------------

    @rule(i=st.integers(0, STUDENTS - 1))
    def join(self, i):
        allowed = i not in self.open
        learner = self.students[i]

        def act():
            entry = services.queue_join(actor=learner, instructor_id=self.instructor.id, question=f"secret {i}")
            self.entry_ids[i] = entry.id

        if self.expect(allowed, act):
            self.clock += 1
            self.open[i] = ("waiting", self.clock)

    @rule(i=st.integers(0, STUDENTS - 1))
    def leave(self, i):
        allowed = self.open.get(i, ("",))[0] == "waiting"
        if self.expect(allowed, lambda: services.queue_leave(actor=self.students[i], instructor_id=self.instructor.id)):
            del self.open[i]

    @rule()
    def admit_next(self):
        order = self.waiting_order()
        entry = None

        def act():
            nonlocal entry
            entry = services.queue_admit(actor=self.instructor, instructor_id=self.instructor.id)

        if self.expect(bool(order), act):
            first = order[0]
            assert entry.student_id == self.students[first].id
            self.open[first] = ("admitted", self.open[first][1])

    def _entry_action(self, i, allowed_from: set[str], action, result: str | None):
        status = self.open.get(i, (None,))[0]
        if i not in self.entry_ids:
            return
        allowed = status in allowed_from
        if self.expect(allowed, lambda: action(self.entry_ids[i])):
            if result is None:
                del self.open[i]
            else:
                self.open[i] = (result, self.open[i][1])

    @rule(i=st.integers(0, STUDENTS - 1))
    def admit_one(self, i):
        self._entry_action(
            i,
            {"waiting"},
            lambda eid: services.queue_admit(actor=self.instructor, instructor_id=self.instructor.id, entry_id=eid),
            "admitted",
        )

    @rule(i=st.integers(0, STUDENTS - 1))
    def complete(self, i):
        self._entry_action(
            i, {"admitted"}, lambda eid: services.queue_entry_complete(actor=self.instructor, entry_id=eid), None
        )

    @rule(i=st.integers(0, STUDENTS - 1))
    def remove(self, i):
        self._entry_action(
            i,
            {"waiting", "admitted"},
            lambda eid: services.queue_entry_remove(actor=self.instructor, entry_id=eid, reason="r"),
            None,
        )

    @rule(i=st.integers(0, STUDENTS - 1))
    def requeue(self, i):
        self._entry_action(
            i, {"admitted"}, lambda eid: services.queue_entry_requeue(actor=self.instructor, entry_id=eid), "waiting"
        )

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def positions_match_the_model(self):
        spots = selectors.waiting_spots(instructor_id=self.instructor.id)
        actual = [s.student_id for s in sorted(spots.values(), key=lambda s: s.position)]
        assert actual == [self.students[i].id for i in self.waiting_order()]
        assert [s.position for s in sorted(spots.values(), key=lambda s: s.position)] == list(range(1, len(actual) + 1))

    @invariant()
    def open_entries_match_the_model(self):
        rows = OfficeHoursQueue.objects.filter(
            instructor=self.instructor, status__in=["waiting", "admitted"]
        ).values_list("student_id", "status")
        assert sorted(rows, key=str) == sorted(((self.students[i].id, s) for i, (s, _) in self.open.items()), key=str)

    @invariant()
    def each_student_sees_only_their_own_entry(self):
        order = self.waiting_order()
        mean = selectors.mean_service_minutes(instructor_id=self.instructor.id)
        for i, learner in enumerate(self.students):
            view = selectors.queue_view_student(student=learner, instructor_id=self.instructor.id)
            assert view["queue_length"] == len(order)
            text = repr(view)
            for j in range(STUDENTS):
                if j != i:
                    assert f"secret {j}" not in text
            if i in order:
                assert view["entry"]["position"] == order.index(i) + 1
                assert view["entry"]["estimated_wait_minutes"] == selectors.estimate_minutes(order.index(i) + 1, mean)
            elif i in self.open:  # admitted
                assert view["entry"]["status"] == "admitted" and view["entry"]["position"] is None
            else:
                assert view["entry"] is None


@pytest.mark.slow
@pytest.mark.django_db
def test_queue_state_machine():
    run_state_machine_as_test(
        QueueMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
