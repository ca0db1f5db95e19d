"""REST: membership of a study group: join, leave (admin hand-over, the last member closing
the group), the member list, and removing a member (DELETE .../members/:userId)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from collab.realtime.rooms import course_room
from collab.realtime.testing import capture_broadcasts
from studygroups.models import MemberRole, StudyGroup
from tests.studygroups.conftest import BASE, add_member, enrolled_student, make_group

pytestmark = pytest.mark.django_db


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


# -- members ------------------------------------------------------------------------------


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


def test_members_has_no_n_plus_one(api, course, student, django_assert_max_num_queries):
    group = make_group(course, student)
    for _ in range(8):
        add_member(group)
    client = api(student)
    with django_assert_max_num_queries(3):
        response = client.get(f"{BASE}/{group.id}/members")
    assert len(response.json()) == 9


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
