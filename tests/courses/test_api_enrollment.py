"""Courses REST: enrolment rules: enrolling by email (any case, twice, the instructor, an
unknown or inactive user, a bad body, a missing course), unenrolling, and a bad course id
in the path."""

from __future__ import annotations

import uuid

import pytest

from collab.courses.models import Enrollment
from tests.courses.conftest import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# -- enrolment rules --------------------------------------------------------------------


def test_enroll_by_email_any_case(api, course, instructor):
    newcomer = UserFactory(email="newcomer@example.com")
    response = api(instructor).post(
        f"/api/courses/{course.id}/enrollments", {"email": "NewComer@Example.com"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["id"] == str(newcomer.id)
    assert body["courseId"] == str(course.id)
    assert body["enrolledAt"]
    assert Enrollment.objects.filter(course=course, user=newcomer).exists()


def test_enroll_twice_is_409(api, course, instructor, student):
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", {"userId": str(student.id)}, format="json")
    assert_error(response, 409, "already_enrolled")
    assert Enrollment.objects.filter(course=course, user=student).count() == 1


def test_enroll_the_instructor_is_409(api, course, instructor):
    response = api(instructor).post(
        f"/api/courses/{course.id}/enrollments", {"userId": str(instructor.id)}, format="json"
    )
    assert_error(response, 409, "already_member")


@pytest.mark.parametrize("body", [{"userId": str(uuid.uuid4())}, {"email": "ghost@example.com"}])
def test_enroll_an_unknown_user_is_404(api, course, instructor, body):
    error = assert_error(
        api(instructor).post(f"/api/courses/{course.id}/enrollments", body, format="json"), 404, "user_not_found"
    )
    # The field that named nobody is the one blamed.
    assert error["fields"] == {next(iter(body)): ["No active user with that id or email."]}


def test_enroll_an_inactive_user_is_404(api, course, instructor):
    gone = UserFactory(is_active=False)
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", {"userId": str(gone.id)}, format="json")
    assert_error(response, 404, "user_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"userId": None, "email": None},
        {"userId": "", "email": ""},
        "both",
        {"userId": "not-a-uuid"},
        {"email": "not-an-email"},
        # issue 15 (negative_data_rejection): DRF's UUIDField read `false` as UUID 0.
        {"userId": False},
        {"userId": 0},
        {"userId": 7},
        "bare-hex",
        {"email": 5},
        {"userId": "USER", "role": 1},
    ],
)
def test_enroll_with_a_bad_body_is_400(api, course, instructor, other_student, body):
    if body == "both":
        body = {"userId": str(other_student.id), "email": other_student.email}
    elif body == "bare-hex":
        body = {"userId": other_student.id.hex}
    elif body.get("userId") == "USER":
        body = {**body, "userId": str(other_student.id)}
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", body, format="json")
    assert_error(response, 400, "invalid")
    assert not Enrollment.objects.filter(course=course, user=other_student).exists()


def test_enroll_into_a_missing_course_is_404_even_for_admins(api, admin_user, student):
    response = api(admin_user).post(
        f"/api/courses/{uuid.uuid4()}/enrollments", {"userId": str(student.id)}, format="json"
    )
    assert_error(response, 404, "course_not_found")


def test_unenroll_a_user_who_is_not_enrolled_is_404(api, course, instructor, other_student):
    response = api(instructor).delete(f"/api/courses/{course.id}/enrollments/{other_student.id}")
    assert_error(response, 404, "enrollment_not_found")


def test_unenroll_then_the_student_loses_access(api, course, instructor, student):
    assert api(instructor).delete(f"/api/courses/{course.id}/enrollments/{student.id}").status_code == 204
    assert not Enrollment.objects.filter(course=course, user=student).exists()
    assert_error(api(student).get(f"/api/courses/{course.id}"), 404, "course_not_found")
    assert api(student).get("/api/courses").json() == []


def test_invalid_course_id_in_the_path_is_a_json_404(api, student):
    response = api(student).get("/api/courses/not-a-uuid")
    assert_error(response, 404)
