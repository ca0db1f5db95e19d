"""Staff moderation in the Django admin: lists, filters, search, deactivation, chat delete."""

from __future__ import annotations

import pytest
from django.test import Client

from studygroups.models import StudyGroup, StudyGroupMessage
from tests.studygroups.conftest import add_member, make_group

pytestmark = pytest.mark.django_db


def test_group_changelist_filters_and_search(staff_client, course, student):
    make_group(course, student, name="Linear algebra")
    make_group(course, student, name="Topology", is_active=False)
    url = "/admin/studygroups/studygroup/"
    assert staff_client.get(url).status_code == 200
    found = staff_client.get(url, {"q": "linear"}).content.decode()
    assert "Linear algebra" in found and "Topology" not in found
    inactive = staff_client.get(url, {"is_active__exact": "0"}).content.decode()
    assert "Topology" in inactive and "Linear algebra" not in inactive
    by_course = staff_client.get(url, {"course__id__exact": str(course.id)})
    assert by_course.status_code == 200


def test_member_and_message_changelists(staff_client, course, student):
    group = make_group(course, student, name="Study hall")
    member = add_member(group)
    StudyGroupMessage.objects.create(group=group, author=member.user, body="needle in a haystack")
    members = staff_client.get("/admin/studygroups/studygroupmember/", {"q": member.user.email})
    assert members.status_code == 200 and member.user.name in members.content.decode()
    assert staff_client.get("/admin/studygroups/studygroupmember/", {"role__exact": "admin"}).status_code == 200
    messages = staff_client.get("/admin/studygroups/studygroupmessage/", {"q": "needle"})
    assert messages.status_code == 200 and "needle in a haystack" in messages.content.decode()
    assert staff_client.get(f"/admin/studygroups/studygroup/{group.id}/change/").status_code == 200


def test_deactivate_action_goes_through_the_service(staff_client, course, student, django_capture_on_commit_callbacks):
    from collab.realtime.testing import capture_broadcasts

    group = make_group(course, student)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/studygroups/studygroup/", {"action": "deactivate_groups", "_selected_action": [str(group.id)]}
        )
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.is_active is False
    rooms = {item.room for item in sent.named("study-group-deleted")}
    assert rooms == {f"study-group-{group.id}", f"course-{course.id}"}
    assert sent.named("study-group-deleted")[0].data["reason"] == "moderated"


def test_message_moderation_action(staff_client, course, student, django_capture_on_commit_callbacks):
    from collab.realtime.testing import capture_broadcasts

    group = make_group(course, student)
    message = StudyGroupMessage.objects.create(group=group, author=student, body="spam")
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/studygroups/studygroupmessage/",
            {"action": "moderate_delete", "_selected_action": [str(message.id)]},
        )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.deleted_at is not None
    assert sent.named("study-group-message-deleted")[0].room == f"study-group-{group.id}"


def test_messages_cannot_be_added_in_the_admin(staff_client, course, student):
    # The add form had no group, session or author to give: saving it was a 500
    # (IntegrityError). Messages are written by members through the services only.
    for url in ("/admin/studygroups/studygroupmessage/add/", "/admin/live_sessions/sessionmessage/add/"):
        assert staff_client.get(url).status_code == 403
        assert staff_client.post(url, {"_save": "Save"}).status_code == 403
    assert StudyGroupMessage.objects.count() == 0
    listing = staff_client.get("/admin/studygroups/studygroupmessage/").content.decode()
    assert "/admin/studygroups/studygroupmessage/add/" not in listing


def test_students_cannot_open_the_admin(course, student):
    client = Client()
    client.force_login(student)
    assert client.get("/admin/studygroups/studygroup/").status_code == 302
    assert StudyGroup.objects.count() == 0


def test_remove_member_action_goes_through_the_removal_service(
    staff_client, course, student, django_capture_on_commit_callbacks
):
    from collab.realtime.testing import capture_broadcasts

    group = make_group(course, student)
    victim = add_member(group)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/studygroups/studygroupmember/",
            {"action": "remove_members", "_selected_action": [str(victim.pk)]},
        )
    assert response.status_code == 302
    assert not group.memberships.filter(user=victim.user).exists()
    left = sent.named("study-group-member-left")
    assert {item.room for item in left} == {f"study-group-{group.id}", f"course-{course.id}"}
    assert left[0].data["reason"] == "removed" and left[0].data["userId"] == str(victim.user_id)


def test_remove_member_action_refuses_the_only_admin_and_says_why(staff_client, course, student):
    group = make_group(course, student)
    add_member(group)
    admin_row = group.memberships.get(user=student)
    response = staff_client.post(
        "/admin/studygroups/studygroupmember/",
        {"action": "remove_members", "_selected_action": [str(admin_row.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "only admin" in response.content.decode()
    assert group.memberships.filter(user=student).exists()


def test_staff_without_the_admin_role_can_remove_from_any_group(course, student, django_capture_on_commit_callbacks):
    from studygroups import services
    from tests.factories import UserFactory

    moderator = UserFactory(is_staff=True)
    group = make_group(course, student)
    victim = add_member(group)
    with django_capture_on_commit_callbacks(execute=True):
        services.study_group_member_remove(actor=moderator, group_id=group.id, user_id=victim.user_id)
    assert not group.memberships.filter(user=victim.user).exists()
