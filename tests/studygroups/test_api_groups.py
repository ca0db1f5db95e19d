"""REST: a study group's own life: create (defaults, limits, refusals), list (order,
paging, query counts), update and delete, and what each tells the rooms."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from collab.realtime.rooms import course_room
from collab.realtime.testing import capture_broadcasts
from studygroups.models import MemberRole, StudyGroup, StudyGroupMember, StudyGroupMessage
from tests.factories import CourseFactory, UserFactory
from tests.studygroups.conftest import BASE, add_member, enrolled_student, make_group

pytestmark = pytest.mark.django_db


# -- create -----------------------------------------------------------------------------


def test_create_makes_the_creator_admin_and_tells_the_course(api, course, student, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = api(student).post(
            BASE,
            {"name": "  Exam prep  ", "description": "Weekly", "courseId": str(course.id), "maxMembers": 4},
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Exam prep"
    assert body["courseId"] == str(course.id)
    assert body["maxMembers"] == 4
    assert body["memberCount"] == 1
    assert body["isMember"] is True
    assert body["isFull"] is False
    assert body["myRole"] == "admin"
    assert body["isActive"] is True
    assert body["createdBy"] == {"id": str(student.id), "name": student.name}
    membership = StudyGroupMember.objects.get(group_id=body["id"])
    assert membership.user_id == student.id and membership.role == MemberRole.ADMIN
    [created] = sent.named("study-group-created")
    assert created.room == course_room(course.id)
    assert created.data["id"] == body["id"] and created.data["memberCount"] == 1


def test_create_defaults_max_members_to_ten(api, course, student):
    response = api(student).post(BASE, {"name": "Defaults", "courseId": str(course.id)}, format="json")
    assert response.status_code == 201
    assert response.json()["maxMembers"] == 10
    assert response.json()["description"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"maxMembers": 1}, "maxMembers"),
        ({"maxMembers": 101}, "maxMembers"),
        ({"maxMembers": "many"}, "maxMembers"),
        ({"maxMembers": None}, "maxMembers"),
        ({"description": "d" * 2001}, "description"),
        ({"courseId": "not-a-uuid"}, "courseId"),
        ({"courseId": None}, "courseId"),
        # issue 15 (negative_data_rejection): DRF's UUIDField took numbers and booleans.
        ({"courseId": False}, "courseId"),
        ({"courseId": 0}, "courseId"),
        ({"courseId": 12345}, "courseId"),
        ({"maxMembers": "5"}, "maxMembers"),
        ({"maxMembers": 5.5}, "maxMembers"),
        ({"maxMembers": True}, "maxMembers"),
        ({"name": 5}, "name"),
    ],
)
def test_create_refuses_bad_input_with_field_errors(api, course, student, body, field):
    payload = {"name": "Good", "courseId": str(course.id), "maxMembers": 5, **body}
    response = api(student).post(BASE, payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert not StudyGroup.objects.exists()


def test_create_accepts_the_limits_two_and_hundred(api, course, student):
    for value in (2, 100):
        response = api(student).post(
            BASE, {"name": "Edge", "courseId": str(course.id), "maxMembers": value}, format="json"
        )
        assert response.status_code == 201, response.content


def test_create_in_unknown_course_is_404(api, student):
    response = api(student).post(BASE, {"name": "x", "courseId": str(uuid.uuid4())}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "course_not_found"
    assert response.json()["error"]["fields"] == {"courseId": ["Course not found."]}
    # An id in the path is no input field: its 404 blames none.
    assert "fields" not in api(student).get(f"/api/courses/{uuid.uuid4()}").json()["error"]


def test_create_with_a_non_json_body_is_400_not_500(api, course, student):
    response = api(student).post(BASE, "{not json", content_type="application/json")
    assert response.status_code == 400


# -- list ---------------------------------------------------------------------------------


def test_list_shows_active_groups_of_the_course_with_stats(api, course, student, instructor):
    mine = make_group(course, student, name="Mine", max_members=2)
    add_member(mine)  # now full
    theirs = make_group(course, enrolled_student(course), name="Theirs", max_members=5)
    make_group(course, enrolled_student(course), name="Closed", is_active=False)
    make_group(CourseFactory(), UserFactory(), name="Elsewhere")

    response = api(student).get(f"{BASE}/course/{course.id}")
    assert response.status_code == 200
    by_name = {item["name"]: item for item in response.json()}
    assert set(by_name) == {"Mine", "Theirs"}
    assert (by_name["Mine"]["memberCount"], by_name["Mine"]["isMember"], by_name["Mine"]["isFull"]) == (2, True, True)
    assert by_name["Mine"]["myRole"] == "admin"
    assert (by_name["Theirs"]["memberCount"], by_name["Theirs"]["isMember"], by_name["Theirs"]["isFull"]) == (
        1,
        False,
        False,
    )
    assert by_name["Theirs"]["myRole"] is None
    assert by_name["Theirs"]["id"] == str(theirs.id)

    as_instructor = api(instructor).get(f"{BASE}/course/{course.id}").json()
    assert {item["name"] for item in as_instructor} == {"Mine", "Theirs"}
    assert all(item["isMember"] is False for item in as_instructor)


def test_list_is_newest_first_bounded_and_pages_with_a_cursor(api, course, student):
    now = timezone.now()
    for i in range(5):
        make_group(course, student, name=f"G{i}", created_at=now - timedelta(minutes=i))
    first = api(student).get(f"{BASE}/course/{course.id}?limit=2")
    assert [g["name"] for g in first.json()] == ["G0", "G1"]
    second = api(student).get(f"{BASE}/course/{course.id}", {"limit": 2, "cursor": first["X-Next-Cursor"]})
    assert [g["name"] for g in second.json()] == ["G2", "G3"]
    third = api(student).get(f"{BASE}/course/{course.id}", {"limit": 2, "cursor": second["X-Next-Cursor"]})
    assert [g["name"] for g in third.json()] == ["G4"] and "X-Next-Cursor" not in third
    older = api(student).get(f"{BASE}/course/{course.id}", {"before": first.json()[-1]["createdAt"]}).json()
    assert [g["name"] for g in older] == ["G2", "G3", "G4"]


def test_list_pages_groups_created_at_the_same_instant_exactly_once(api, course, student):
    now = timezone.now()
    made = {make_group(course, student, name=f"G{i}", created_at=now).name for i in range(7)}
    seen, cursor = [], None
    while True:
        response = api(student).get(
            f"{BASE}/course/{course.id}", {"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        seen += [g["name"] for g in response.json()]
        cursor = response.get("X-Next-Cursor")
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=%2B5",
        "before=yesterday",
        "before=2020-01-01T00:00:00%2B16:00",
        "cursor=zz",
        # issue 15 (negative_data_rejection): an empty value was read as absent.
        "before=",
        "cursor=",
        "limit=",
    ],
)
def test_list_refuses_bad_query_params(api, course, student, query):
    response = api(student).get(f"{BASE}/course/{course.id}?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [query.split("=")[0]]


def test_list_has_no_n_plus_one(api, course, student, django_assert_max_num_queries):
    for i in range(15):
        group = make_group(course, enrolled_student(course), name=f"G{i}")
        add_member(group)
        add_member(group, student) if i % 2 else None
    client = api(student)
    # auth user + course visibility + the groups with their stats, whatever their number.
    with django_assert_max_num_queries(4):
        response = client.get(f"{BASE}/course/{course.id}")
    assert response.status_code == 200
    assert len(response.json()) == 15
    assert sum(item["isMember"] for item in response.json()) == 7
    assert {item["memberCount"] for item in response.json()} == {2, 3}


# -- update -----------------------------------------------------------------------------


def test_group_admin_updates_and_members_are_told(api, cast, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = api(cast.group_admin).patch(
            f"{BASE}/{cast.group.id}", {"name": "Calculus", "description": "New", "maxMembers": 3}, format="json"
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["description"], body["maxMembers"], body["memberCount"]) == ("Calculus", "New", 3, 2)
    rooms = {item.room for item in sent.named("study-group-updated")}
    assert rooms == {f"study-group-{cast.group.id}", course_room(cast.group.course_id)}
    assert sent.named("study-group-updated")[0].data["name"] == "Calculus"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"maxMembers": 1}, "maxMembers"),
        ({"maxMembers": 101}, "maxMembers"),
        ({"maxMembers": "5"}, "maxMembers"),
        ({"maxMembers": False}, "maxMembers"),
        ({}, "nonFieldErrors"),
    ],
)
def test_update_refuses_bad_input(api, cast, body, field):
    response = api(cast.group_admin).patch(f"{BASE}/{cast.group.id}", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_update_cannot_lower_max_members_below_the_count(api, cast):
    add_member(cast.group)  # 3 members
    response = api(cast.group_admin).patch(f"{BASE}/{cast.group.id}", {"maxMembers": 2}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "max_members_below_count"
    assert "maxMembers" in error["fields"]
    cast.group.refresh_from_db()
    assert cast.group.max_members == 10
    # Exactly the count is fine: the group becomes full.
    response = api(cast.group_admin).patch(f"{BASE}/{cast.group.id}", {"maxMembers": 3}, format="json")
    assert response.status_code == 200
    assert response.json()["isFull"] is True


def test_update_of_a_closed_group_is_409(api, cast):
    StudyGroup.objects.filter(id=cast.group.id).update(is_active=False)
    response = api(cast.group_admin).patch(f"{BASE}/{cast.group.id}", {"name": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "group_inactive"


# -- delete -----------------------------------------------------------------------------


def test_delete_deactivates_tells_both_rooms_and_keeps_history(api, cast, django_capture_on_commit_callbacks):
    StudyGroupMessage.objects.create(group=cast.group, author=cast.member, body="keep me")
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = api(cast.course_instructor).delete(f"{BASE}/{cast.group.id}")
    assert response.status_code == 204
    cast.group.refresh_from_db()
    assert cast.group.is_active is False
    assert cast.group.memberships.count() == 2
    assert StudyGroupMessage.objects.filter(group=cast.group).count() == 1
    deleted = sent.named("study-group-deleted")
    assert {item.room for item in deleted} == {f"study-group-{cast.group.id}", course_room(cast.group.course_id)}
    assert deleted[0].data == {
        "groupId": str(cast.group.id),
        "courseId": str(cast.group.course_id),
        "reason": "deleted",
        "deletedBy": {"id": str(cast.course_instructor.id), "name": cast.course_instructor.name},
    }
    # Gone from the list, still readable as closed, and closed for everything else.
    assert api(cast.member).get(f"{BASE}/course/{cast.group.course_id}").json() == []
    detail = api(cast.member).get(f"{BASE}/{cast.group.id}")
    assert detail.status_code == 200 and detail.json()["isActive"] is False
    again = api(cast.group_admin).delete(f"{BASE}/{cast.group.id}")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "group_inactive")
    leave = api(cast.member).post(f"{BASE}/{cast.group.id}/leave")
    assert (leave.status_code, leave.json()["error"]["code"]) == (409, "group_inactive")
