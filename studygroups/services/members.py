"""Joining and leaving study groups: a member's own leave, removal by a group admin or
staff, hand-over of the admin role, and the end of memberships when a user leaves the
course."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from collab.accounts.models import User
from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.courses.membership import is_member
from collab.courses.models import Course
from collab.realtime.broadcast import broadcast_on_commit, sockets_control_on_commit
from collab.realtime.rooms import user_room
from studygroups import events
from studygroups.models import MemberRole, StudyGroup, StudyGroupMember
from studygroups.permissions import StudyGroupPermission
from studygroups.selectors import membership_get
from studygroups.services.common import (
    broadcast_to_group_and_course,
    deactivate,
    lock_group,
    require_active,
    require_course_member,
)


@transaction.atomic
def study_group_join(*, actor: User, group_id: uuid.UUID | str) -> StudyGroupMember:
    """Adds the actor to an active group with a free place (the original "add member")."""
    group = lock_group(actor=actor, group_id=group_id)
    require_course_member(actor, group)
    require_active(group)
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
    broadcast_to_group_and_course(
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
    group = lock_group(actor=actor, group_id=group_id, any_group=actor.is_staff)
    is_self = str(user_id) == str(actor.id)
    if not is_self and not StudyGroupPermission.can_remove_member(
        actor, membership_get(group_id=group.id, user_id=actor.id)
    ):
        raise NotAllowed("Only the group's admins and staff can remove other members.", code="not_group_admin")
    require_active(group)
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
            raise InvalidInput.for_fields({"handOverTo": ["Must be another member of this group."]})
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
    broadcast_to_group_and_course(
        group,
        events.MEMBER_LEFT,
        events.member_payload(group, target, member_count=member_count, reason=reason),
    )
    if member_count == 0:
        deactivate(group, actor=None, reason=events.REASON_EMPTY)
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
