"""Study-group writes.

Every change that depends on the member count or on who the admins are (join, leave,
update, delete) first locks the group's row (SELECT ... FOR UPDATE OF the group) and
counts under that lock: two joins for the last free place are serialised by PostgreSQL,
so the count can never pass `max_members`. The unique (group, user) constraint backs up
the "already a member" check. Broadcasts go out after commit (broadcast_on_commit).
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from collab.accounts.models import User
from collab.chat.services import chat_clean_body, chat_payload, chat_soft_delete
from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.courses.membership import is_member
from collab.courses.models import Course
from collab.courses.selectors import course_get_visible
from collab.realtime.broadcast import broadcast_on_commit, sockets_control_on_commit
from collab.realtime.rooms import course_room, user_room
from studygroups import events
from studygroups.models import (
    DEFAULT_MAX_MEMBERS,
    MAX_MEMBERS,
    MIN_MEMBERS,
    NAME_MAX_LENGTH,
    MemberRole,
    StudyGroup,
    StudyGroupMember,
    StudyGroupMessage,
)
from studygroups.permissions import StudyGroupPermission
from studygroups.selectors import group_get_for_member, group_get_visible, groups_visible_to, membership_get
from studygroups.serializers import GroupMessageSerializer

# -- validation shared by REST, admin and direct callers --------------------------------


def _clean_name(raw: str) -> str:
    name = (raw or "").strip()
    if not name:
        raise InvalidInput("name may not be empty.", code="invalid_name", fields={"name": ["May not be empty."]})
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"name is longer than {NAME_MAX_LENGTH} characters.",
            code="invalid_name",
            fields={"name": [f"At most {NAME_MAX_LENGTH} characters."]},
        )
    return name


def _check_max_members(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_MEMBERS <= value <= MAX_MEMBERS:
        raise InvalidInput(
            f"maxMembers must be from {MIN_MEMBERS} to {MAX_MEMBERS}.",
            code="invalid_max_members",
            fields={"maxMembers": [f"Must be an integer from {MIN_MEMBERS} to {MAX_MEMBERS}."]},
        )
    return value


# -- helpers ----------------------------------------------------------------------------


def _lock_group(*, actor: User, group_id: uuid.UUID | str, any_group: bool = False) -> StudyGroup:
    """The group, row-locked until the transaction ends, if `actor` may see it (any
    group with `any_group`: staff moderation). `of=("self",)` locks the group row only,
    not its course or creator."""
    visible = StudyGroup.objects.all() if any_group else groups_visible_to(actor)
    group = visible.select_for_update(of=("self",)).select_related("course", "created_by").filter(id=group_id).first()
    if group is None:
        raise NotFound("Study group not found.", code="study_group_not_found")
    return group


def _require_active(group: StudyGroup) -> None:
    if not group.is_active:
        raise Conflict("This study group has been closed.", code="group_inactive")


def _require_course_member(actor: User, group: StudyGroup) -> None:
    if not StudyGroupPermission.can_take_part(actor, group.course):
        raise NotAllowed("Only members of the course can do this.", code="not_course_member")


def _broadcast_to_group_and_course(group: StudyGroup, event: str, data: dict) -> None:
    broadcast_on_commit(events.group_room(group.id), event, data)
    broadcast_on_commit(course_room(group.course_id), event, data)


def _deactivate(group: StudyGroup, *, actor: User | None, reason: str) -> None:
    """Closes a locked group: it leaves listings, refuses joins and chat, and every
    socket in its room is told and taken out of the room."""
    group.is_active = False
    group.save(update_fields=["is_active", "updated_at"])
    data = events.deleted_payload(group, reason=reason, actor=actor)
    room = events.group_room(group.id)
    sockets_control_on_commit(room, leave=[room], event=events.GROUP_DELETED, data=data)
    broadcast_on_commit(course_room(group.course_id), events.GROUP_DELETED, data)


# -- groups -----------------------------------------------------------------------------


@transaction.atomic
def study_group_create(
    *,
    actor: User,
    course_id: uuid.UUID | str,
    name: str,
    description: str = "",
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> StudyGroup:
    """Creates a group in a course the actor belongs to; the creator is its first admin."""
    course = course_get_visible(user=actor, course_id=course_id)
    if not StudyGroupPermission.can_take_part(actor, course):
        raise NotAllowed("Only members of the course can create its study groups.", code="not_course_member")
    group = StudyGroup.objects.create(
        course=course,
        name=_clean_name(name),
        description=(description or "").strip(),
        max_members=_check_max_members(max_members),
        created_by=actor,
    )
    StudyGroupMember.objects.create(group=group, user=actor, role=MemberRole.ADMIN)
    broadcast_on_commit(course_room(course.id), events.GROUP_CREATED, events.group_payload(group, member_count=1))
    return group


@transaction.atomic
def study_group_update(
    *,
    actor: User,
    group_id: uuid.UUID | str,
    name: str | None = None,
    description: str | None = None,
    max_members: int | None = None,
) -> StudyGroup:
    """Group admins change name, description or the limit; the limit never drops below
    the members already in (counted under the lock, so no join slips in between)."""
    group = _lock_group(actor=actor, group_id=group_id)
    if not StudyGroupPermission.can_update(membership_get(group_id=group.id, user_id=actor.id)):
        raise NotAllowed("Only the group's admins can change it.", code="not_group_admin")
    _require_active(group)
    member_count = group.memberships.count()
    if name is not None:
        group.name = _clean_name(name)
    if description is not None:
        group.description = description.strip()
    if max_members is not None:
        _check_max_members(max_members)
        if max_members < member_count:
            raise InvalidInput(
                f"The group already has {member_count} members; maxMembers cannot be lower.",
                code="max_members_below_count",
                fields={"maxMembers": [f"Must be at least the current member count ({member_count})."]},
            )
        group.max_members = max_members
    group.save()
    _broadcast_to_group_and_course(group, events.GROUP_UPDATED, events.group_payload(group, member_count=member_count))
    return group


@transaction.atomic
def study_group_delete(*, actor: User, group_id: uuid.UUID | str) -> None:
    """Deactivates the group (soft delete: members and chat stay for staff)."""
    group = _lock_group(actor=actor, group_id=group_id)
    membership = membership_get(group_id=group.id, user_id=actor.id)
    if not StudyGroupPermission.can_delete(actor, group, membership):
        raise NotAllowed(
            "Only a group admin, the course's instructor or an admin can delete a group.", code="not_allowed_to_delete"
        )
    _require_active(group)
    _deactivate(group, actor=actor, reason=events.REASON_DELETED)


@transaction.atomic
def study_group_moderate_deactivate(*, actor: User, group_id: uuid.UUID | str) -> bool:
    """Staff moderation (Django admin): deactivates any group, telling its members.
    Returns False if it was already inactive."""
    if not (actor.is_staff or actor.is_admin):
        raise NotAllowed("Only staff can moderate study groups.", code="not_staff")
    group = StudyGroup.objects.select_for_update(of=("self",)).select_related("course").filter(id=group_id).first()
    if group is None:
        raise NotFound("Study group not found.", code="study_group_not_found")
    if not group.is_active:
        return False
    _deactivate(group, actor=actor, reason=events.REASON_MODERATED)
    return True


# -- members ----------------------------------------------------------------------------


@transaction.atomic
def study_group_join(*, actor: User, group_id: uuid.UUID | str) -> StudyGroupMember:
    """Adds the actor to an active group with a free place (the original "add member")."""
    group = _lock_group(actor=actor, group_id=group_id)
    _require_course_member(actor, group)
    _require_active(group)
    if StudyGroupMember.objects.filter(group=group, user=actor).exists():
        raise Conflict("You are already a member of this group.", code="already_member")
    # Counted under the group lock: every other join/leave of this group waits for us.
    member_count = group.memberships.count()
    if member_count >= group.max_members:
        raise Conflict("This study group is full.", code="group_full")
    try:
        with transaction.atomic():
            membership = StudyGroupMember.objects.create(group=group, user=actor, role=MemberRole.MEMBER)
    except IntegrityError:
        raise Conflict("You are already a member of this group.", code="already_member")
    _broadcast_to_group_and_course(
        group, events.MEMBER_JOINED, events.member_payload(group, membership, member_count=member_count + 1)
    )
    return membership


@transaction.atomic
def study_group_member_remove(
    *,
    actor: User,
    group_id: uuid.UUID | str,
    user_id: uuid.UUID | str,
    hand_over_to: uuid.UUID | str | None = None,
) -> None:
    """Removes a member in one transaction: the actor themselves (leave: the last admin
    hands the group to the longest-standing member) or, for a group admin or staff
    (site admins, or `is_staff` in the Django admin), another member. The group and the
    course hear `study-group-member-left` (reason "left" or "removed"), the removed
    user's sockets leave the room, and the last member leaving closes the group.

    Removing another member who is the group's only admin while others remain needs
    `hand_over_to`: a remaining member, who becomes admin (`study-group-admin-changed`).

    Errors: NotFound `study_group_not_found` (no such group, or not visible to the actor);
    NotAllowed `not_group_admin`; Conflict `group_inactive`; NotFound `member_not_found`
    (Conflict `not_a_member` for oneself); Conflict `last_admin` (only admin, no
    hand-over); InvalidInput `invalid` with `fields.handOverTo` (not another member)."""
    group = _lock_group(actor=actor, group_id=group_id, any_group=actor.is_staff)
    is_self = str(user_id) == str(actor.id)
    if not is_self and not StudyGroupPermission.can_remove_member(
        actor, membership_get(group_id=group.id, user_id=actor.id)
    ):
        raise NotAllowed("Only the group's admins and staff can remove other members.", code="not_group_admin")
    _require_active(group)
    target = StudyGroupMember.objects.filter(group=group, user_id=user_id).select_related("user").first()
    if target is None:
        if is_self:
            raise Conflict("You are not a member of this group.", code="not_a_member")
        raise NotFound("This user is not a member of the group.", code="member_not_found")
    if is_self:
        _remove_member(group, target, reason=events.LEFT_REASON_LEFT)
        return
    heir = None
    if hand_over_to is not None:
        heir = (
            StudyGroupMember.objects.filter(group=group, user_id=hand_over_to)
            .exclude(user_id=target.user_id)
            .select_related("user")
            .first()
        )
        if heir is None:
            raise InvalidInput(
                "The hand-over must go to another member of the group.",
                code="invalid",
                fields={"handOverTo": ["Not another member of this group."]},
            )
    elif target.is_admin and not (
        group.memberships.filter(role=MemberRole.ADMIN).exclude(id=target.id).exists()
        or not group.memberships.exclude(id=target.id).exists()
    ):
        raise Conflict(
            "This member is the group's only admin: name the member who takes over (handOverTo).",
            code="last_admin",
        )
    _remove_member(group, target, reason=events.LEFT_REASON_REMOVED, heir=heir)


def _remove_member(
    group: StudyGroup, target: StudyGroupMember, *, reason: str, heir: StudyGroupMember | None = None
) -> None:
    """Takes `target` out of the locked, active `group`: their sockets leave the room,
    the group and the course hear member-left with `reason`. If `target` was the last
    admin, `heir` (or else the longest-standing member) becomes admin; the last member
    leaving closes the group."""
    target.delete()
    room = events.group_room(group.id)
    sockets_control_on_commit(user_room(target.user_id), leave=[room])
    remaining = group.memberships.order_by("joined_at", "id")
    member_count = remaining.count()
    _broadcast_to_group_and_course(
        group,
        events.MEMBER_LEFT,
        events.member_payload(group, target, member_count=member_count, reason=reason),
    )
    if member_count == 0:
        _deactivate(group, actor=None, reason=events.REASON_EMPTY)
        return
    if target.is_admin and not remaining.filter(role=MemberRole.ADMIN).exists():
        heir = heir or remaining.select_related("user").first()
        heir.role = MemberRole.ADMIN
        heir.save(update_fields=["role"])
        broadcast_on_commit(room, events.ADMIN_CHANGED, events.admin_changed_payload(heir))


def study_group_leave(*, actor: User, group_id: uuid.UUID | str) -> None:
    study_group_member_remove(actor=actor, group_id=group_id, user_id=actor.id)


@transaction.atomic
def study_group_memberships_end_for_unenrolled(*, course: Course, user_id: uuid.UUID, actor: User | None) -> int:
    """Receiver of `enrollment_removed` (collab.courses.signals): a user no longer in `course` leaves
    every active group of it, exactly as if they had left each one (hand-over, closing
    when empty, member-left broadcasts), and their sockets leave those rooms. Returns
    how many groups they left.

    Every active group of the course is locked (in id order, so two unenrolments never
    wait on each other crosswise) before memberships are read: a join racing this one
    either committed first and is undone here, or waits for the lock and then finds the
    enrolment gone (study_group_join checks it under the same lock). Memberships of
    closed groups are history and stay."""
    user = User.objects.get(id=user_id)
    if is_member(user, course):
        return 0
    groups = list(
        StudyGroup.objects.select_for_update(of=("self",))
        .filter(course=course, is_active=True)
        .select_related("course", "created_by")
        .order_by("id")
    )
    memberships = {
        m.group_id: m for m in StudyGroupMember.objects.filter(group__in=groups, user=user).select_related("user")
    }
    left = 0
    for group in groups:
        membership = memberships.get(group.id)
        if membership is not None:
            _remove_member(group, membership, reason=events.LEFT_REASON_UNENROLLED)
            left += 1
    return left


# -- chat -------------------------------------------------------------------------------


@transaction.atomic
def study_group_message_send(*, actor: User, group_id: uuid.UUID | str, body: object) -> StudyGroupMessage:
    """Stores a chat message of a member of an active group and sends it to the room."""
    text = chat_clean_body(body)
    group = group_get_for_member(user=actor, group_id=group_id)
    _require_active(group)
    message = StudyGroupMessage.objects.create(group=group, author=actor, body=text)
    broadcast_on_commit(
        events.group_room(group.id),
        events.NEW_MESSAGE,
        chat_payload(message, GroupMessageSerializer),
    )
    return message


@transaction.atomic
def study_group_message_moderate(
    *, actor: User, group_id: uuid.UUID | str, message_id: uuid.UUID | str
) -> StudyGroupMessage:
    """REST moderation: the group must be visible to the actor and the message in it
    (404 `study_group_not_found` / `message_not_found`); then study_group_message_delete
    (403 `not_allowed_to_moderate`, 409 `message_already_deleted`)."""
    group = group_get_visible(user=actor, group_id=group_id)
    message = StudyGroupMessage.objects.filter(id=message_id, group_id=group.id).first()
    if message is None:
        raise NotFound("No such message in this group.", code="message_not_found")
    return study_group_message_delete(actor=actor, message=message)


@transaction.atomic
def study_group_message_delete(*, actor: User, message: StudyGroupMessage) -> StudyGroupMessage:
    """Moderation: hides a message from readers (kept for staff) and tells the room."""
    message = (
        StudyGroupMessage.objects.select_for_update(of=("self",)).select_related("group__course").get(pk=message.pk)
    )
    membership = membership_get(group_id=message.group_id, user_id=actor.id)
    if not StudyGroupPermission.can_moderate_chat(actor, message.group, membership):
        raise NotAllowed(
            "Only staff, course staff and the group's admins can delete messages.", code="not_allowed_to_moderate"
        )
    chat_soft_delete(message, actor=actor)
    broadcast_on_commit(
        events.group_room(message.group_id),
        events.MESSAGE_DELETED,
        {"id": str(message.id), "groupId": str(message.group_id)},
    )
    return message
