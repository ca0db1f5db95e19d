"""What the study-group services share: input checks used by REST, admin and direct
callers, the group row lock, and the broadcasts to a group and its course.

Every change that depends on the member count or on who the admins are (join, leave,
update, delete) first locks the group's row (SELECT ... FOR UPDATE OF the group) and
counts under that lock: two joins for the last free place are serialised by PostgreSQL,
so the count can never pass `max_members`. The unique (group, user) constraint backs up
the "already a member" check. Broadcasts go out after commit (broadcast_on_commit).
"""

from __future__ import annotations

import uuid

from collab.accounts.models import User
from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.realtime.broadcast import broadcast_on_commit, sockets_control_on_commit
from collab.realtime.rooms import course_room
from studygroups import events
from studygroups.models import MAX_MEMBERS, MIN_MEMBERS, NAME_MAX_LENGTH, StudyGroup
from studygroups.permissions import StudyGroupPermission
from studygroups.selectors import groups_visible_to

# -- validation shared by REST, admin and direct callers --------------------------------


def clean_name(raw: str) -> str:
    name = (raw or "").strip()
    if not name:
        raise InvalidInput.for_fields({"name": ["May not be empty."]}, code="invalid_name")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput.for_fields({"name": [f"At most {NAME_MAX_LENGTH} characters."]}, code="invalid_name")
    return name


def check_max_members(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_MEMBERS <= value <= MAX_MEMBERS:
        raise InvalidInput.for_fields(
            {"maxMembers": [f"Must be an integer from {MIN_MEMBERS} to {MAX_MEMBERS}."]}, code="invalid_max_members"
        )
    return value


# -- helpers ----------------------------------------------------------------------------


def lock_group(*, actor: User, group_id: uuid.UUID | str, any_group: bool = False) -> StudyGroup:
    """The group, row-locked until the transaction ends, if `actor` may see it (any
    group with `any_group`: staff moderation). `of=("self",)` locks the group row only,
    not its course or creator. FOR NO KEY UPDATE: changes of the group wait for each
    other, but a chat message's foreign key (KEY SHARE, checked at its COMMIT, after it
    took the group room's seq) does not wait for them: with FOR UPDATE a message and a
    join, which takes the room's seq at its own COMMIT, deadlocked
    (tests/studygroups/test_chat_concurrency.py)."""
    visible = StudyGroup.objects.all() if any_group else groups_visible_to(actor)
    group = (
        visible.select_for_update(of=("self",), no_key=True)
        .select_related("course", "created_by")
        .filter(id=group_id)
        .first()
    )
    if group is None:
        raise NotFound("Study group not found.", code="study_group_not_found")
    return group


def require_active(group: StudyGroup) -> None:
    if not group.is_active:
        raise Conflict("This study group has been closed.", code="group_inactive")


def require_course_member(actor: User, group: StudyGroup) -> None:
    if not StudyGroupPermission.can_take_part(actor, group.course):
        raise NotAllowed("Only members of the course can do this.", code="not_course_member")


def broadcast_to_group_and_course(group: StudyGroup, event: str, data: dict) -> None:
    broadcast_on_commit(events.group_room(group.id), event, data)
    broadcast_on_commit(course_room(group.course_id), event, data)


def deactivate(group: StudyGroup, *, actor: User | None, reason: str) -> None:
    """Closes a locked group: it leaves listings, refuses joins and chat, and every
    socket in its room is told and taken out of the room."""
    group.is_active = False
    group.save(update_fields=["is_active", "updated_at"])
    data = events.deleted_payload(group, reason=reason, actor=actor)
    room = events.group_room(group.id)
    sockets_control_on_commit(room, leave=[room], event=events.GROUP_DELETED, data=data)
    broadcast_on_commit(course_room(group.course_id), events.GROUP_DELETED, data)
