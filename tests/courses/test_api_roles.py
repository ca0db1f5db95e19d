"""Courses REST: enrolment roles: shown on the course page (TAs not counted as students), the
viewer's own role, and role changes validated and told to the room."""

from __future__ import annotations

import pytest

from collab.realtime.testing import capture_broadcasts
from tests.courses.conftest import assert_error

pytestmark = pytest.mark.django_db


# -- roles ------------------------------------------------------------------------------


def test_roles_show_on_the_course_page_and_tas_are_not_counted_as_students(api, world):
    course, ta = world["course"], world["actors"]["ta"]
    instructor = api(world["actors"]["course_instructor"])
    members = {m["id"]: m["role"] for m in instructor.get(f"/api/courses/{course.id}/members").json()}
    assert members[str(ta.id)] == "ta" and members[str(course.instructor_id)] == "instructor"
    assert members[str(world["classmate"].id)] == "student"
    assert instructor.get(f"/api/courses/{course.id}").json()["studentCount"] == 2
    # The TA sees the course like any member.
    assert api(ta).get(f"/api/courses/{course.id}").json()["studentCount"] == 2


def test_the_course_says_the_viewers_own_role(api, world):
    course, actors = world["course"], world["actors"]
    expected = {"course_instructor": "instructor", "ta": "ta", "student_enrolled": "student", "admin": None}
    for actor, role in expected.items():
        assert api(actors[actor]).get(f"/api/courses/{course.id}").json()["role"] == role, actor
    for actor in ("course_instructor", "ta", "student_enrolled"):
        listed = {c["id"]: c["role"] for c in api(actors[actor]).get("/api/courses").json()}
        assert listed == {str(course.id): expected[actor]}, actor
    created = api(actors["other_instructor"]).post("/api/courses", {"title": "New"}, format="json").json()
    assert created["role"] == "instructor"
    assert api(actors["other_instructor"]).get(f"/api/courses/{created['id']}").json()["role"] == "instructor"
    # A role change shows on the next read.
    classmate = world["classmate"]
    url = f"/api/courses/{course.id}/enrollments/{classmate.id}"
    assert api(actors["course_instructor"]).patch(url, {"role": "ta"}, format="json").status_code == 200
    assert api(classmate).get(f"/api/courses/{course.id}").json()["role"] == "ta"


def test_role_changes_are_validated_and_told(api, world, django_capture_on_commit_callbacks):
    course, classmate = world["course"], world["classmate"]
    instructor = api(world["actors"]["course_instructor"])
    url = f"/api/courses/{course.id}/enrollments/{classmate.id}"
    assert_error(instructor.patch(url, {"role": "admin"}, format="json"), 400, "invalid")
    assert_error(instructor.patch(url, {}, format="json"), 400, "invalid")
    missing = f"/api/courses/{course.id}/enrollments/{world['newcomer'].id}"
    assert_error(instructor.patch(missing, {"role": "ta"}, format="json"), 404, "enrollment_not_found")
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = instructor.patch(url, {"role": "ta"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "ta"
    assert sent.named("course-role-changed")[0].data == {"courseId": str(course.id), "role": "ta"}
    assert sent.named("course-role-changed")[0].room == f"user-{classmate.id}"
    # Setting the same role again changes and sends nothing.
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert instructor.patch(url, {"role": "ta"}, format="json").status_code == 200
    assert not sent.named("course-role-changed")
    bad = instructor.post(
        f"/api/courses/{course.id}/enrollments", {"userId": str(world["newcomer"].id), "role": "x"}, format="json"
    )
    assert_error(bad, 400, "invalid")
