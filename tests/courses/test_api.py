"""Courses REST: who may do what (the role x action matrix of every route, with a TA as
course staff who may not change enrolments or roles)."""

from __future__ import annotations

import pytest

from collab.courses.models import Course, Enrollment
from tests.courses.conftest import assert_error

pytestmark = pytest.mark.django_db


# -- the matrix -------------------------------------------------------------------------

ACTORS = [
    "anonymous",
    "student_enrolled",
    "student_not_enrolled",
    "course_instructor",
    "other_instructor",
    "admin",
    "ta",
]

# action -> expected status per actor, in ACTORS order. A TA is course staff but may not
# change the course's enrolments or roles.
EXPECTED = {
    "list": [401, 200, 200, 200, 200, 200, 200],
    "create": [401, 403, 403, 201, 201, 201, 403],
    "retrieve": [401, 200, 404, 200, 404, 200, 200],
    "members": [401, 200, 404, 200, 404, 200, 200],
    "enroll": [401, 403, 404, 201, 404, 201, 403],
    "enroll_ta": [401, 403, 404, 201, 404, 201, 403],
    "set_role": [401, 403, 404, 200, 404, 200, 403],
    "unenroll": [401, 403, 404, 204, 404, 204, 403],
}

MATRIX = [
    (action, actor, status) for action, row in EXPECTED.items() for actor, status in zip(ACTORS, row, strict=True)
]


def perform(client, action: str, world: dict):
    base = f"/api/courses/{world['course'].id}"
    if action == "list":
        return client.get("/api/courses")
    if action == "create":
        return client.post("/api/courses", {"title": "Compilers", "description": "Parsing."}, format="json")
    if action == "retrieve":
        return client.get(base)
    if action == "members":
        return client.get(f"{base}/members")
    if action == "enroll":
        return client.post(f"{base}/enrollments", {"userId": str(world["newcomer"].id)}, format="json")
    if action == "enroll_ta":
        return client.post(f"{base}/enrollments", {"email": world["newcomer"].email, "role": "ta"}, format="json")
    if action == "set_role":
        return client.patch(f"{base}/enrollments/{world['classmate'].id}", {"role": "ta"}, format="json")
    if action == "unenroll":
        return client.delete(f"{base}/enrollments/{world['classmate'].id}")
    raise AssertionError(action)


@pytest.mark.parametrize("action, actor, expected", MATRIX)
def test_role_action_matrix(api, world, action, actor, expected):
    response = perform(api(world["actors"][actor]), action, world)
    assert response.status_code == expected, (action, actor, response.content)
    if expected >= 400:
        assert_error(response, expected)

    # A refusal changes nothing; a success changes exactly what it says.
    course = world["course"]
    newcomer = Enrollment.objects.filter(course=course, user=world["newcomer"]).first()
    classmate_enrolled = Enrollment.objects.filter(course=course, user=world["classmate"]).exists()
    assert (newcomer is not None) == (action in ("enroll", "enroll_ta") and expected == 201)
    if newcomer is not None:
        assert newcomer.role == ("ta" if action == "enroll_ta" else "student")
    classmate_role = Enrollment.objects.filter(course=course, user=world["classmate"]).values_list("role", flat=True)
    assert list(classmate_role)[:1] in ([], ["ta" if action == "set_role" and expected == 200 else "student"])
    assert classmate_enrolled == (not (action == "unenroll" and expected == 204))
    assert Course.objects.filter(title="Compilers").exists() == (action == "create" and expected == 201)
