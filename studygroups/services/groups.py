"""Study groups created, changed, deleted and closed by staff moderation."""

from __future__ import annotations

import uuid

from django.db import transaction

from collab.accounts.models import User
from collab.core.errors import InvalidInput, NotAllowed, NotFound, input_field
from collab.courses.selectors import course_get_visible
from collab.realtime.broadcast import broadcast_on_commit
from collab.realtime.rooms import course_room
from studygroups import events
from studygroups.models import DEFAULT_MAX_MEMBERS, MemberRole, StudyGroup, StudyGroupMember
from studygroups.permissions import StudyGroupPermission
from studygroups.selectors import membership_get
from studygroups.services.common import (
    broadcast_to_group_and_course,
    check_max_members,
    clean_name,
    deactivate,
    lock_group,
    require_active,
)


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
    with input_field("courseId"):
        course = course_get_visible(user=actor, course_id=course_id)
    if not StudyGroupPermission.can_take_part(actor, course):
        raise NotAllowed("Only members of the course can create its study groups.", code="not_course_member")
    group = StudyGroup.objects.create(
        course=course,
        name=clean_name(name),
        description=(description or "").strip(),
        max_members=check_max_members(max_members),
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
    group = lock_group(actor=actor, group_id=group_id)
    if not StudyGroupPermission.can_update(membership_get(group_id=group.id, user_id=actor.id)):
        raise NotAllowed("Only the group's admins can change it.", code="not_group_admin")
    require_active(group)
    member_count = group.memberships.count()
    if name is not None:
        group.name = clean_name(name)
    if description is not None:
        group.description = description.strip()
    if max_members is not None:
        check_max_members(max_members)
        if max_members < member_count:
            raise InvalidInput.for_fields(
                {"maxMembers": [f"Must be at least the current member count ({member_count})."]},
                code="max_members_below_count",
            )
        group.max_members = max_members
    group.save()
    broadcast_to_group_and_course(group, events.GROUP_UPDATED, events.group_payload(group, member_count=member_count))
    return group


@transaction.atomic
def study_group_delete(*, actor: User, group_id: uuid.UUID | str) -> None:
    """Deactivates the group (soft delete: members and chat stay for staff)."""
    group = lock_group(actor=actor, group_id=group_id)
    membership = membership_get(group_id=group.id, user_id=actor.id)
    if not StudyGroupPermission.can_delete(actor, group, membership):
        raise NotAllowed(
            "Only a group admin, the course's instructor or an admin can delete a group.", code="not_allowed_to_delete"
        )
    require_active(group)
    deactivate(group, actor=actor, reason=events.REASON_DELETED)


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
    deactivate(group, actor=actor, reason=events.REASON_MODERATED)
    return True
