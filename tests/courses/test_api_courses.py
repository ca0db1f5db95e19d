"""Courses REST: what each route returns (my courses, a course's shape, create, the members
list) and that lists stay bounded: limits, paging, query counts that do not grow with rows."""

from __future__ import annotations

import pytest

from collab.courses.models import Course
from tests.courses.conftest import assert_error
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db


# -- what each route returns ------------------------------------------------------------


def test_list_shows_only_courses_i_teach_or_am_enrolled_in(api, course, student, instructor, other_instructor):
    elsewhere = CourseFactory(instructor=other_instructor)
    mine_to_teach = CourseFactory(instructor=instructor, title="Zeta")

    student_ids = [c["id"] for c in api(student).get("/api/courses").json()]
    assert student_ids == [str(course.id)]

    teacher_ids = {c["id"] for c in api(instructor).get("/api/courses").json()}
    assert teacher_ids == {str(course.id), str(mine_to_teach.id)}

    assert [c["id"] for c in api(other_instructor).get("/api/courses").json()] == [str(elsewhere.id)]


def test_list_lists_a_course_once_and_counts_all_its_students(api, course, student, instructor):
    for _ in range(3):
        EnrollmentFactory(course=course)
    # The student sees the whole class size, not just their own enrolment.
    for viewer in (student, instructor):
        body = api(viewer).get("/api/courses").json()
        assert len(body) == 1
        assert body[0]["studentCount"] == 4, (viewer, body)


def test_list_is_bounded_by_limit(api, instructor):
    for n in range(5):
        CourseFactory(instructor=instructor, title=f"C{n}")
    body = api(instructor).get("/api/courses?limit=3").json()
    assert [c["title"] for c in body] == ["C0", "C1", "C2"]
    # "" (issue 15, negative_data_rejection): an empty value was read as absent.
    for bad in ("0", "501", "-1", "abc", "", "%2B3", "3.0"):
        error = assert_error(api(instructor).get(f"/api/courses?limit={bad}"), 400, "invalid")
        assert list(error["fields"]) == ["limit"]


def test_course_shape(api, course, student, instructor):
    body = api(student).get(f"/api/courses/{course.id}").json()
    assert body == {
        "id": str(course.id),
        "title": course.title,
        "description": course.description,
        "instructor": {"id": str(instructor.id), "name": instructor.name, "role": "instructor"},
        "studentCount": 1,
        "role": "student",
        "createdAt": body["createdAt"],
    }
    assert "email" not in body["instructor"]


def test_create_makes_me_the_instructor(api, instructor):
    response = api(instructor).post("/api/courses", {"title": "Algorithms"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["instructor"]["id"] == str(instructor.id)
    assert body["studentCount"] == 0
    assert body["description"] == ""
    assert Course.objects.get(id=body["id"]).instructor == instructor


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "T", "description": 5 * "x" * 1001}, "description"),
        ({"title": 5}, "title"),
    ],
)
def test_create_refuses_bad_input(api, instructor, body, field):
    error = assert_error(api(instructor).post("/api/courses", body, format="json"), 400, "invalid")
    assert field in error["fields"]


def test_members_lists_the_instructor_then_students_by_name(api, course, student, instructor):
    zed = UserFactory(name="Zed")
    amy = UserFactory(name="Amy")
    EnrollmentFactory(course=course, user=zed)
    EnrollmentFactory(course=course, user=amy)
    body = api(student).get(f"/api/courses/{course.id}/members").json()
    # "Amy" < "User n" (the student fixture) < "Zed"
    assert [m["id"] for m in body] == [str(instructor.id), str(amy.id), str(student.id), str(zed.id)]
    assert body[0]["role"] == "instructor" and body[0]["enrolledAt"] is None
    assert all(m["role"] == "student" and m["enrolledAt"] for m in body[1:])
    assert all("email" not in m for m in body)


# -- no N+1 -----------------------------------------------------------------------------


def test_course_list_query_count_does_not_grow_with_courses(api, django_assert_max_num_queries):
    student = UserFactory()
    for _ in range(25):
        course = CourseFactory()
        EnrollmentFactory(course=course, user=student)
        for _ in range(3):
            EnrollmentFactory(course=course)
    client = api(student)
    with django_assert_max_num_queries(3):
        response = client.get("/api/courses")
    assert response.status_code == 200
    assert len(response.json()) == 25
    assert {c["studentCount"] for c in response.json()} == {4}


def test_members_query_count_does_not_grow_with_members(api, django_assert_max_num_queries):
    course = CourseFactory()
    for _ in range(40):
        EnrollmentFactory(course=course)
    client = api(course.instructor)
    with django_assert_max_num_queries(4):
        response = client.get(f"/api/courses/{course.id}/members")
    assert response.status_code == 200
    assert len(response.json()) == 41


@pytest.mark.django_db
def test_members_are_bounded_and_paged(api, course, instructor):
    from tests.factories import EnrollmentFactory, UserFactory

    for n in range(5):
        EnrollmentFactory(course=course, user=UserFactory(name=f"Zed {n}"))
    client = api(instructor)
    everyone = client.get(f"/api/courses/{course.id}/members").json()
    assert len(everyone) == 7 and everyone[0]["role"] == "instructor"

    first = client.get(f"/api/courses/{course.id}/members?limit=3").json()
    rest = client.get(f"/api/courses/{course.id}/members?limit=3&offset=3").json()
    last = client.get(f"/api/courses/{course.id}/members?limit=3&offset=6").json()
    assert [m["id"] for m in first + rest + last] == [m["id"] for m in everyone]

    for bad in ("limit=0", "limit=5001", "limit=x", "offset=-1", "offset=", "limit=", "offset=1000001"):
        response = client.get(f"/api/courses/{course.id}/members?{bad}")
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid"
