"""Office-hours fixtures: an instructor's course with many students, an open queue."""

from __future__ import annotations

import pytest

from officehours import services
from tests.factories import EnrollmentFactory, UserFactory


@pytest.fixture
def enroll(course):
    """`enroll(n)` -> n new students enrolled in `course` (taught by `instructor`)."""

    def make(count: int = 1, **kwargs):
        students = []
        for _ in range(count):
            user = UserFactory(**kwargs)
            EnrollmentFactory(course=course, user=user)
            students.append(user)
        return students

    return make


@pytest.fixture
def open_queue(instructor, course):
    """The instructor's queue, opened by hand."""
    services.queue_open(actor=instructor, instructor_id=instructor.id)
    return instructor


def join(student, instructor, question: str | None = None):
    return services.queue_join(
        actor=student, instructor_id=instructor.id, question=question or f"Question of {student.name}"
    )
