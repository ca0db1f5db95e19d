"""REST: the role x action matrix, input validation, listings and their query counts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from collab.realtime.rooms import course_room
from collab.realtime.testing import capture_broadcasts
from studygroups.models import MemberRole, StudyGroup, StudyGroupMember, StudyGroupMessage
from tests.factories import CourseFactory, UserFactory
from tests.studygroups.conftest import ROLES, add_member, enrolled_student, make_group

pytestmark = pytest.mark.django_db

BASE = "/api/study-groups"


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


# -- list and retrieve ------------------------------------------------------------------


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


def test_members_has_no_n_plus_one(api, course, student, django_assert_max_num_queries):
    group = make_group(course, student)
    for _ in range(8):
        add_member(group)
    client = api(student)
    with django_assert_max_num_queries(3):
        response = client.get(f"{BASE}/{group.id}/members")
    assert len(response.json()) == 9


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


# -- join -------------------------------------------------------------------------------


def test_join_adds_a_member_and_tells_group_and_course(api, cast, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = api(cast.course_mate).post(f"{BASE}/{cast.group.id}/join")
    assert response.status_code == 200
    assert (response.json()["isMember"], response.json()["memberCount"], response.json()["myRole"]) == (
        True,
        3,
        "member",
    )
    joined = sent.named("study-group-member-joined")
    assert {item.room for item in joined} == {f"study-group-{cast.group.id}", course_room(cast.group.course_id)}
    assert joined[0].data == {
        "groupId": str(cast.group.id),
        "courseId": str(cast.group.course_id),
        "userId": str(cast.course_mate.id),
        "name": cast.course_mate.name,
        "role": "member",
        "joinedAt": joined[0].data["joinedAt"],
        "memberCount": 3,
    }


def test_join_a_full_group_is_409(api, course, student):
    group = make_group(course, student, max_members=2)
    add_member(group)
    late = enrolled_student(course)
    response = api(late).post(f"{BASE}/{group.id}/join")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "group_full"
    assert group.memberships.count() == 2


def test_join_a_closed_group_is_409(api, cast):
    StudyGroup.objects.filter(id=cast.group.id).update(is_active=False)
    response = api(cast.course_mate).post(f"{BASE}/{cast.group.id}/join")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "group_inactive"


# -- leave ------------------------------------------------------------------------------


def test_last_admin_leaving_hands_over_to_the_longest_standing_member(
    api, course, student, django_capture_on_commit_callbacks
):
    group = make_group(course, student)
    now = timezone.now()
    newer = add_member(group, joined_at=now)
    older = add_member(group, joined_at=now - timedelta(hours=1))
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = api(student).post(f"{BASE}/{group.id}/leave")
    assert response.status_code == 204
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.role == MemberRole.ADMIN
    assert newer.role == MemberRole.MEMBER
    group.refresh_from_db()
    assert group.is_active
    [changed] = sent.named("study-group-admin-changed")
    assert changed.data == {
        "groupId": str(group.id),
        "userId": str(older.user_id),
        "name": older.user.name,
        "role": "admin",
        "joinedAt": changed.data["joinedAt"],
    }
    left = sent.named("study-group-member-left")
    assert left[0].data["userId"] == str(student.id) and left[0].data["memberCount"] == 2
    # The new admin can now do admin things.
    assert api(older.user).patch(f"{BASE}/{group.id}", {"name": "Mine now"}, format="json").status_code == 200


def test_admin_leaving_while_another_admin_remains_promotes_nobody(api, course, student):
    group = make_group(course, student)
    other_admin = add_member(group, role=MemberRole.ADMIN, joined_at=timezone.now())
    plain = add_member(group, joined_at=timezone.now() - timedelta(days=1))
    assert api(student).post(f"{BASE}/{group.id}/leave").status_code == 204
    plain.refresh_from_db()
    other_admin.refresh_from_db()
    assert plain.role == MemberRole.MEMBER and other_admin.role == MemberRole.ADMIN


def test_last_member_leaving_closes_the_group(api, course, student, django_capture_on_commit_callbacks):
    group = make_group(course, student)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert api(student).post(f"{BASE}/{group.id}/leave").status_code == 204
    group.refresh_from_db()
    assert group.is_active is False
    assert not group.memberships.exists()
    deleted = sent.named("study-group-deleted")
    assert {item.room for item in deleted} == {f"study-group-{group.id}", course_room(course.id)}
    assert deleted[0].data["reason"] == "empty"
    assert api(student).get(f"{BASE}/course/{course.id}").json() == []
    rejoin = api(student).post(f"{BASE}/{group.id}/join")
    assert rejoin.status_code == 409
    assert rejoin.json()["error"]["code"] == "group_inactive"


def test_leaving_twice_is_409_the_second_time(api, cast):
    assert api(cast.member).post(f"{BASE}/{cast.group.id}/leave").status_code == 204
    second = api(cast.member).post(f"{BASE}/{cast.group.id}/leave")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "not_a_member"


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


# -- members and messages ---------------------------------------------------------------


def test_members_lists_admins_first_then_by_seniority(api, course, student):
    group = make_group(course, student)
    now = timezone.now()
    late = add_member(group, joined_at=now + timedelta(minutes=5))
    early = add_member(group, joined_at=now - timedelta(minutes=5))
    response = api(late.user).get(f"{BASE}/{group.id}/members")
    assert response.status_code == 200
    body = response.json()
    assert [m["userId"] for m in body] == [str(student.id), str(early.user_id), str(late.user_id)]
    assert body[0] == {
        "userId": str(student.id),
        "name": student.name,
        "role": "admin",
        "joinedAt": body[0]["joinedAt"],
    }
    assert body[1]["role"] == "member"


def test_messages_history_is_newest_first_paged_and_hides_deleted(api, cast):
    now = timezone.now()
    for i in range(5):
        StudyGroupMessage.objects.create(
            group=cast.group, author=cast.member, body=f"m{i}", sent_at=now - timedelta(minutes=i)
        )
    StudyGroupMessage.objects.create(group=cast.group, author=cast.member, body="hidden", deleted_at=now, sent_at=now)
    other = make_group(cast.group.course, cast.member, name="Other")
    StudyGroupMessage.objects.create(group=other, author=cast.member, body="elsewhere")

    first = api(cast.group_admin).get(f"{BASE}/{cast.group.id}/messages?limit=3").json()
    assert [m["message"] for m in first["messages"]] == ["m0", "m1", "m2"]
    assert first["messages"][0]["userId"] == str(cast.member.id)
    assert first["messages"][0]["name"] == cast.member.name
    assert first["nextCursor"] is not None
    rest = (
        api(cast.group_admin)
        .get(f"{BASE}/{cast.group.id}/messages", {"limit": 3, "cursor": first["nextCursor"]})
        .json()
    )
    assert [m["message"] for m in rest["messages"]] == ["m3", "m4"]
    assert rest["nextCursor"] is None


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "before=nope",
        "before=2020-01-01T00:00:00%2B16:00",
        "cursor=e30",
        # issue 15 (negative_data_rejection): an empty value was read as absent.
        "before=",
        "cursor=",
        "limit=",
    ],
)
def test_messages_refuses_bad_query(api, cast, query):
    response = api(cast.member).get(f"{BASE}/{cast.group.id}/messages?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [query.split("=")[0]]


def test_messages_has_no_n_plus_one(api, cast, django_assert_max_num_queries):
    for _ in range(3):
        author = enrolled_student(cast.group.course)
        add_member(cast.group, author)
        for i in range(5):
            StudyGroupMessage.objects.create(group=cast.group, author=author, body=f"hi {i}")
    client = api(cast.member)
    with django_assert_max_num_queries(3):
        response = client.get(f"{BASE}/{cast.group.id}/messages")
    assert len(response.json()["messages"]) == 15


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


# -- remove a member (DELETE /api/study-groups/:groupId/members/:userId) ----------------


def _remove(api, actor, group, user_id, query: str = ""):
    return api(actor).delete(f"{BASE}/{group.id}/members/{user_id}{query}")


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("group_admin", 204),
        ("site_admin", 204),
        ("member", 403),
        ("course_mate", 403),
        ("course_instructor", 403),
        ("stranger", 404),
        ("anonymous", 401),
    ],
)
def test_remove_member_role_matrix(api, cast, role, expected, django_capture_on_commit_callbacks):
    victim = add_member(cast.group)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = _remove(api, cast[role], cast.group, victim.user_id)
    assert response.status_code == expected, response.content
    still_member = cast.group.memberships.filter(user_id=victim.user_id).exists()
    assert still_member is (expected != 204)
    if expected == 204:
        left = sent.named("study-group-member-left")
        assert {item.room for item in left} == {f"study-group-{cast.group.id}", course_room(cast.group.course_id)}
        assert left[0].data == {
            "groupId": str(cast.group.id),
            "courseId": str(cast.group.course_id),
            "userId": str(victim.user_id),
            "name": victim.user.name,
            "role": victim.role,
            "joinedAt": left[0].data["joinedAt"],
            "memberCount": 2,
            "reason": "removed",
        }
    else:
        assert sent == []
        code = {401: "not_authenticated", 403: "not_group_admin", 404: "study_group_not_found"}[expected]
        assert response.json()["error"]["code"] == code


def test_remove_someone_not_in_the_group_is_404_member_not_found(api, cast):
    for user_id in (cast.course_mate.id, uuid.uuid4()):
        response = _remove(api, cast.group_admin, cast.group, user_id)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "member_not_found"


def test_remove_from_an_unknown_group_is_404(api, cast):
    response = api(cast.group_admin).delete(f"{BASE}/{uuid.uuid4()}/members/{cast.member.id}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "study_group_not_found"


def test_remove_from_a_closed_group_is_409(api, cast):
    StudyGroup.objects.filter(id=cast.group.id).update(is_active=False)
    response = _remove(api, cast.site_admin, cast.group, cast.member.id)
    assert response.status_code == 409 and response.json()["error"]["code"] == "group_inactive"


def test_removing_the_only_admin_without_a_hand_over_is_409_and_changes_nothing(
    api, cast, django_capture_on_commit_callbacks
):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = _remove(api, cast.site_admin, cast.group, cast.group_admin.id)
    assert response.status_code == 409 and response.json()["error"]["code"] == "last_admin"
    assert cast.group.memberships.filter(user=cast.group_admin, role=MemberRole.ADMIN).exists()
    assert sent == []


def test_removing_the_only_admin_with_a_hand_over_promotes_that_member(api, cast, django_capture_on_commit_callbacks):
    older = add_member(cast.group, joined_at=timezone.now() - timedelta(days=3))
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = _remove(api, cast.site_admin, cast.group, cast.group_admin.id, f"?handOverTo={cast.member.id}")
    assert response.status_code == 204, response.content
    # The named member takes over, not the longest-standing one.
    assert cast.group.memberships.get(user=cast.member).role == MemberRole.ADMIN
    older.refresh_from_db()
    assert older.role == MemberRole.MEMBER
    [changed] = sent.named("study-group-admin-changed")
    assert changed.data["userId"] == str(cast.member.id)
    assert sent.named("study-group-member-left")[0].data["reason"] == "removed"


def test_removing_an_admin_while_another_admin_remains_needs_no_hand_over(api, cast):
    other_admin = add_member(cast.group, role=MemberRole.ADMIN)
    assert _remove(api, other_admin.user, cast.group, cast.group_admin.id).status_code == 204
    assert cast.group.memberships.get(user=cast.member).role == MemberRole.MEMBER


@pytest.mark.parametrize(
    "hand_over_to", ["not-a-uuid", "self", "course_mate", "unknown", "empty", "zero", "false", "bare-hex"]
)
def test_a_bad_hand_over_is_400_and_changes_nothing(api, cast, hand_over_to):
    value = {
        "not-a-uuid": "not-a-uuid",
        # issue 15 (negative_data_rejection): `?handOverTo=` was read as absent (409
        # last_admin); refused as what it is, an empty value.
        "empty": "",
        "zero": "0",
        "false": "false",
        "bare-hex": cast.member.id.hex,
        "self": str(cast.group_admin.id),
        "course_mate": str(cast.course_mate.id),
        "unknown": str(uuid.uuid4()),
    }[hand_over_to]
    response = _remove(api, cast.site_admin, cast.group, cast.group_admin.id, f"?handOverTo={value}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "handOverTo" in response.json()["error"]["fields"]
    assert cast.group.memberships.count() == 2


def test_removing_yourself_is_leaving(api, cast, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert _remove(api, cast.member, cast.group, cast.member.id).status_code == 204
    assert sent.named("study-group-member-left")[0].data["reason"] == "left"
    again = _remove(api, cast.member, cast.group, cast.member.id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_a_member"


def test_leaving_says_left_and_the_last_admin_leaving_still_hands_over(api, cast, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert api(cast.group_admin).post(f"{BASE}/{cast.group.id}/leave").status_code == 204
    assert sent.named("study-group-member-left")[0].data["reason"] == "left"
    assert cast.group.memberships.get(user=cast.member).role == MemberRole.ADMIN
