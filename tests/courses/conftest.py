"""Fixtures and helpers of the courses tests: the error-shape check, and a `world` of one
course with a user in every role (anonymous, enrolled, not enrolled, its instructor,
another instructor, an admin, a TA)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from collab.courses.models import EnrollmentRole
from collab.courses.services import enrollment_delete
from tests.factories import AdminFactory, CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def world(db):
    instructor = InstructorFactory()
    course = CourseFactory(instructor=instructor)
    enrolled = UserFactory()
    classmate = UserFactory()  # enrolled too: the unenroll target
    EnrollmentFactory(course=course, user=enrolled)
    EnrollmentFactory(course=course, user=classmate)
    ta = UserFactory()
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    return {
        "course": course,
        "newcomer": UserFactory(),  # the enroll target
        "classmate": classmate,
        "actors": {
            "anonymous": None,
            "student_enrolled": enrolled,
            "student_not_enrolled": UserFactory(),
            "course_instructor": instructor,
            "other_instructor": InstructorFactory(),
            "admin": AdminFactory(),
            "ta": ta,
        },
    }


db = database_sync_to_async


async def unenroll(instructor, course, user) -> None:
    await db(enrollment_delete)(actor=instructor, course=course, user_id=user.id)
