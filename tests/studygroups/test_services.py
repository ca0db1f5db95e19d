"""Services: the membership limit under real concurrency, hand-over, removal, chat."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.core.jsonframes import iso
from collab.realtime.testing import capture_broadcasts
from studygroups import services
from studygroups.models import MemberRole, StudyGroup, StudyGroupMember, StudyGroupMessage
from tests.conftest import client_for
from tests.factories import AdminFactory, UserFactory
from tests.studygroups.conftest import add_member, enrolled_student, make_group


def _run_threads(targets: list, timeout: float = 60) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread hung"


@pytest.mark.django_db(transaction=True)
def test_forty_students_race_for_six_free_places(course, student):
    group = make_group(course, student, max_members=10)
    for _ in range(3):
        add_member(group)  # 4 members: 6 places left
    racers = [enrolled_student(course) for _ in range(40)]
    barrier = threading.Barrier(len(racers))
    results: list[tuple[int, str | None]] = []
    results_lock = threading.Lock()
    done = threading.Event()
    highest_seen = [0]

    def join(user) -> None:
        try:
            try:
                client = client_for(user)
            except BaseException:
                barrier.abort()  # the others would otherwise wait for this thread in vain
                raise
            barrier.wait(timeout=120)
            response = client.post(f"/api/study-groups/{group.id}/join")
            code = response.json()["error"]["code"] if response.status_code >= 400 else None
            with results_lock:
                results.append((response.status_code, code))
        finally:
            connection.close()

    def watch() -> None:
        # Reads the count while the joins run: it must never pass the limit.
        try:
            while not done.is_set():
                highest_seen[0] = max(highest_seen[0], StudyGroupMember.objects.filter(group=group).count())
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        _run_threads([lambda user=user: join(user) for user in racers])
    finally:
        done.set()
        watcher.join(30)
    assert not watcher.is_alive(), "the watcher hung"

    statuses = sorted(results)
    assert len(statuses) == 40
    assert statuses.count((200, None)) == 6, statuses
    assert statuses.count((409, "group_full")) == 34, statuses
    assert StudyGroupMember.objects.filter(group=group).count() == 10
    assert highest_seen[0] <= 10


@pytest.mark.django_db(transaction=True)
def test_everyone_leaving_at_once_closes_the_group_exactly_once(course, student):
    group = make_group(course, student)
    members = [student] + [add_member(group).user for _ in range(7)]
    barrier = threading.Barrier(len(members))
    errors: list[Exception] = []

    def leave(user) -> None:
        try:
            barrier.wait(timeout=120)
            with capture_broadcasts():
                services.study_group_leave(actor=user, group_id=group.id)
        except Exception as exc:  # collected, asserted below
            errors.append(exc)
        finally:
            connection.close()

    with capture_broadcasts() as sent:
        _run_threads([lambda user=user: leave(user) for user in members])
    assert errors == []
    group.refresh_from_db()
    assert group.is_active is False
    assert not group.memberships.exists()
    assert len(sent.named("study-group-member-left")) == 2 * len(members)
    # Closed once: one deletion to the group room and one to the course room.
    assert len(sent.named("study-group-deleted")) == 2


@pytest.mark.django_db(transaction=True)
def test_lowering_the_limit_races_fairly_with_joins(course, student):
    """An update to maxMembers=3 and many joins at once: whichever order PostgreSQL
    picks, the group ends with at most maxMembers members."""
    group = make_group(course, student, max_members=10)
    add_member(group)  # 2 members
    racers = [enrolled_student(course) for _ in range(8)]
    barrier = threading.Barrier(len(racers) + 1)

    def join(user) -> None:
        try:
            barrier.wait(timeout=120)
            try:
                services.study_group_join(actor=user, group_id=group.id)
            except Conflict:
                pass
        finally:
            connection.close()

    def shrink() -> None:
        try:
            barrier.wait(timeout=120)
            try:
                services.study_group_update(actor=student, group_id=group.id, max_members=3)
            except InvalidInput:
                pass  # the joins won: the count was already above 3
        finally:
            connection.close()

    _run_threads([shrink] + [lambda user=user: join(user) for user in racers])
    group.refresh_from_db()
    assert group.memberships.count() <= group.max_members


@pytest.mark.django_db
def test_create_strips_and_validates_for_direct_callers(course, student):
    with pytest.raises(InvalidInput) as empty:
        services.study_group_create(actor=student, course_id=course.id, name="   ")
    assert empty.value.fields == {"name": ["May not be empty."]}
    for bad in (1, 101, True, "5"):
        with pytest.raises(InvalidInput) as limit:
            services.study_group_create(actor=student, course_id=course.id, name="ok", max_members=bad)
        assert "maxMembers" in limit.value.fields
    assert not StudyGroup.objects.exists()


@pytest.mark.django_db
def test_create_requires_course_membership(course, admin_user):
    stranger = UserFactory()
    with pytest.raises(NotFound):
        services.study_group_create(actor=stranger, course_id=course.id, name="x")
    with pytest.raises(NotAllowed) as refused:
        services.study_group_create(actor=admin_user, course_id=course.id, name="x")
    assert refused.value.code == "not_course_member"


@pytest.mark.django_db
def test_instructor_creates_and_is_admin(course, instructor):
    group = services.study_group_create(actor=instructor, course_id=course.id, name="Office crew", max_members=2)
    assert group.memberships.get().role == MemberRole.ADMIN
    assert group.created_by == instructor


@pytest.mark.django_db
def test_group_admin_removes_a_member_and_members_cannot(course, student, django_capture_on_commit_callbacks):
    group = make_group(course, student)
    victim = add_member(group)
    bystander = add_member(group)
    with pytest.raises(NotAllowed) as refused:
        services.study_group_member_remove(actor=bystander.user, group_id=group.id, user_id=victim.user_id)
    assert refused.value.code == "not_group_admin"
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        services.study_group_member_remove(actor=student, group_id=group.id, user_id=victim.user_id)
    assert not group.memberships.filter(user=victim.user).exists()
    assert sent.named("study-group-member-left")[0].data["userId"] == str(victim.user_id)
    with pytest.raises(NotFound) as missing:
        services.study_group_member_remove(actor=student, group_id=group.id, user_id=uuid.uuid4())
    assert missing.value.code == "member_not_found"


@pytest.mark.django_db
def test_the_admin_removing_a_member_does_not_touch_roles(course, student):
    group = make_group(course, student)
    member = add_member(group)
    services.study_group_member_remove(actor=student, group_id=group.id, user_id=member.user_id)
    assert group.memberships.get().user == student
    assert group.memberships.get().role == MemberRole.ADMIN


@pytest.mark.django_db
def test_message_send_stores_and_broadcasts_one_payload(course, student, django_capture_on_commit_callbacks):
    group = make_group(course, student)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        message = services.study_group_message_send(actor=student, group_id=group.id, body="  hello  ")
    assert message.body == "hello"
    [new] = sent.named("study-group-new-message")
    assert new.room == f"study-group-{group.id}"
    assert new.data == {
        "id": str(message.id),
        "groupId": str(group.id),
        "userId": str(student.id),
        "name": student.name,
        "message": "hello",
        "sentAt": iso(message.sent_at),
    }


@pytest.mark.django_db
def test_message_send_refusals(course, student):
    group = make_group(course, student)
    outsider = enrolled_student(course)
    with pytest.raises(NotAllowed) as not_member:
        services.study_group_message_send(actor=outsider, group_id=group.id, body="hi")
    assert not_member.value.code == "not_a_member"
    with pytest.raises(NotFound):
        services.study_group_message_send(actor=UserFactory(), group_id=group.id, body="hi")
    for body in ("", "   ", 42, "a\x00b", "\ud800", "x" * 2001):
        with pytest.raises(InvalidInput) as bad:
            services.study_group_message_send(actor=student, group_id=group.id, body=body)
        assert bad.value.code == "invalid" and list(bad.value.fields) == ["message"]
    StudyGroup.objects.filter(id=group.id).update(is_active=False)
    with pytest.raises(Conflict) as closed:
        services.study_group_message_send(actor=student, group_id=group.id, body="hi")
    assert closed.value.code == "group_inactive"
    assert not StudyGroupMessage.objects.exists()


@pytest.mark.django_db
def test_moderation_delete(course, student, admin_user, django_capture_on_commit_callbacks):
    group = make_group(course, student)
    member = add_member(group)
    message = StudyGroupMessage.objects.create(group=group, author=member.user, body="rude")
    with pytest.raises(NotAllowed):
        services.study_group_message_delete(actor=member.user, message=message)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        services.study_group_message_delete(actor=admin_user, message=message)
    message.refresh_from_db()
    assert message.deleted_at is not None and message.deleted_by == admin_user
    [deleted] = sent.named("study-group-message-deleted")
    assert deleted.room == f"study-group-{group.id}"
    assert deleted.data == {"id": str(message.id), "groupId": str(group.id)}
    with pytest.raises(Conflict):
        services.study_group_message_delete(actor=student, message=message)  # group admin, already deleted


@pytest.mark.django_db
def test_staff_moderation_deactivates_and_is_idempotent(course, student, django_capture_on_commit_callbacks):
    group = make_group(course, student)
    staff = AdminFactory()
    with pytest.raises(NotAllowed):
        services.study_group_moderate_deactivate(actor=student, group_id=group.id)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert services.study_group_moderate_deactivate(actor=staff, group_id=group.id) is True
    assert sent.named("study-group-deleted")[0].data["reason"] == "moderated"
    assert services.study_group_moderate_deactivate(actor=staff, group_id=group.id) is False


@pytest.mark.django_db
def test_nothing_is_broadcast_when_the_transaction_rolls_back(course, student, django_capture_on_commit_callbacks):
    group = make_group(course, student, max_members=2)
    add_member(group)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(Conflict):
            services.study_group_join(actor=enrolled_student(course), group_id=group.id)
    assert sent == []
