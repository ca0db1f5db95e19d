"""REST: who may do what on study groups (the role x action matrix, with error codes), the
404 for a group one cannot see, and the schema documenting every route."""

from __future__ import annotations

import uuid

import pytest

from studygroups.models import StudyGroupMessage
from tests.factories import CourseFactory
from tests.studygroups.conftest import BASE, ROLES

pytestmark = pytest.mark.django_db


def _do(api, user, action: str, cast):
    client = api(user)
    group = cast.group
    match action:
        case "create":
            return client.post(BASE, {"name": "New", "courseId": str(group.course_id), "maxMembers": 5}, format="json")
        case "list":
            return client.get(f"{BASE}/course/{group.course_id}")
        case "retrieve":
            return client.get(f"{BASE}/{group.id}")
        case "update":
            return client.patch(f"{BASE}/{group.id}", {"name": "Renamed"}, format="json")
        case "join":
            return client.post(f"{BASE}/{group.id}/join")
        case "leave":
            return client.post(f"{BASE}/{group.id}/leave")
        case "members":
            return client.get(f"{BASE}/{group.id}/members")
        case "delete":
            return client.delete(f"{BASE}/{group.id}")
        case "messages":
            return client.get(f"{BASE}/{group.id}/messages")
        case "delete_message":
            message = StudyGroupMessage.objects.create(group=group, author=cast.member, body="spam")
            response = client.delete(f"{BASE}/{group.id}/messages/{message.id}")
            message.refresh_from_db()
            assert (message.deleted_at is not None) == (response.status_code == 204)
            return response
    raise AssertionError(action)


# role order: member, group_admin, course_mate, course_instructor, stranger, site_admin, anonymous,
# ta (a TA of the course: a course member who moderates the course's group chats)
MATRIX = {
    "create": [201, 201, 201, 201, 404, 403, 401, 201],
    "list": [200, 200, 200, 200, 404, 200, 401, 200],
    "retrieve": [200, 200, 200, 200, 404, 200, 401, 200],
    "update": [403, 200, 403, 403, 404, 403, 401, 403],
    "join": [409, 409, 200, 200, 404, 403, 401, 200],
    "leave": [204, 204, 409, 409, 404, 409, 401, 409],
    "members": [200, 200, 200, 200, 404, 200, 401, 200],
    "delete": [403, 204, 403, 204, 404, 204, 401, 403],
    "messages": [200, 200, 403, 403, 404, 403, 401, 403],
    "delete_message": [403, 204, 403, 204, 404, 204, 401, 204],
}
CODES = {
    ("create", "stranger"): "course_not_found",
    ("create", "site_admin"): "not_course_member",
    ("update", "member"): "not_group_admin",
    ("update", "course_instructor"): "not_group_admin",
    ("update", "site_admin"): "not_group_admin",
    ("join", "member"): "already_member",
    ("join", "site_admin"): "not_course_member",
    ("leave", "course_mate"): "not_a_member",
    ("leave", "site_admin"): "not_a_member",
    ("delete", "member"): "not_allowed_to_delete",
    ("delete", "course_mate"): "not_allowed_to_delete",
    ("messages", "course_mate"): "not_a_member",
    ("delete_message", "member"): "not_allowed_to_moderate",
    ("delete_message", "course_mate"): "not_allowed_to_moderate",
    ("delete_message", "stranger"): "study_group_not_found",
    ("retrieve", "stranger"): "study_group_not_found",
    ("list", "stranger"): "course_not_found",
    ("retrieve", "anonymous"): "not_authenticated",
}


@pytest.mark.parametrize(
    ("action", "role", "expected"),
    [(action, role, codes[i]) for action, codes in MATRIX.items() for i, role in enumerate(ROLES)],
)
def test_role_action_matrix(api, cast, action, role, expected):
    response = _do(api, cast[role], action, cast)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["error"]["code"]
    if (action, role) in CODES:
        assert response.json()["error"]["code"] == CODES[(action, role)]


def test_unknown_group_is_404_everywhere(api, student):
    missing = uuid.uuid4()
    client = api(student)
    for response in (
        client.get(f"{BASE}/{missing}"),
        client.patch(f"{BASE}/{missing}", {"name": "x"}, format="json"),
        client.delete(f"{BASE}/{missing}"),
        client.post(f"{BASE}/{missing}/join"),
        client.post(f"{BASE}/{missing}/leave"),
        client.get(f"{BASE}/{missing}/members"),
        client.get(f"{BASE}/{missing}/messages"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "study_group_not_found"


def test_group_of_another_course_is_404_even_for_its_instructor_elsewhere(api, cast, other_instructor):
    CourseFactory(instructor=other_instructor)
    response = api(other_instructor).get(f"{BASE}/{cast.group.id}")
    assert response.status_code == 404


def test_unenrolled_member_loses_sight_of_the_group(api, cast):
    from collab.courses.models import Enrollment

    Enrollment.objects.filter(course=cast.group.course, user=cast.member).delete()
    assert api(cast.member).get(f"{BASE}/{cast.group.id}").status_code == 404


def test_schema_documents_every_route():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(public=True)["paths"]
    expected = {
        "/api/study-groups": {"post"},
        "/api/study-groups/course/{course_id}": {"get"},
        "/api/study-groups/{group_id}": {"get", "patch", "delete"},
        "/api/study-groups/{group_id}/join": {"post"},
        "/api/study-groups/{group_id}/leave": {"post"},
        "/api/study-groups/{group_id}/members": {"get"},
        "/api/study-groups/{group_id}/messages": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            assert paths[path][method]["summary"]
