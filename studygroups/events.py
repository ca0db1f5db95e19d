"""Study-group events: room names, event names and payloads, built next to the
services that send them. Payloads are camelCase with str ids and ISO times; a group and
a member are built by their REST serializers (collab.core.jsonframes.rest_payload), so
they are the same JSON as on REST."""

from __future__ import annotations

import uuid

from collab.accounts.models import User
from collab.core.jsonframes import rest_payload
from studygroups.models import StudyGroup, StudyGroupMember

ROOM_PREFIX = "study-group-"

# Server -> client
GROUP_CREATED = "study-group-created"
GROUP_UPDATED = "study-group-updated"
GROUP_DELETED = "study-group-deleted"
MEMBER_JOINED = "study-group-member-joined"
MEMBER_LEFT = "study-group-member-left"
ADMIN_CHANGED = "study-group-admin-changed"
NEW_MESSAGE = "study-group-new-message"
MESSAGE_DELETED = "study-group-message-deleted"
# Who has the group room open right now (per socket, not membership).
PARTICIPANT_JOINED = "study-group-participant-joined"
PARTICIPANT_LEFT = "study-group-participant-left"

# Client -> server
JOIN = "join-study-group"
LEAVE = "leave-study-group"
SEND_MESSAGE = "study-group-message"

# Why a group stopped being active (the `reason` of study-group-deleted).
# study-group-member-left reasons: the member left, was removed by a group admin or staff,
# or left the course (unenrolment).
LEFT_REASON_LEFT = "left"
LEFT_REASON_REMOVED = "removed"
LEFT_REASON_UNENROLLED = "unenrolled"

REASON_DELETED = "deleted"
REASON_EMPTY = "empty"
REASON_MODERATED = "moderated"


def group_room(group_id: uuid.UUID | str) -> str:
    return f"{ROOM_PREFIX}{group_id}"


def group_id_from_room(room: str) -> str | None:
    return room[len(ROOM_PREFIX) :] if room.startswith(ROOM_PREFIX) else None


def _person(user: User | None) -> dict | None:
    return {"id": str(user.id), "name": user.name} if user is not None else None


def group_payload(group: StudyGroup, *, member_count: int) -> dict:
    """The group as REST shows it, without the per-user fields (isMember, myRole): what
    every course member may know of it."""
    from studygroups.serializers import StudyGroupEventSerializer

    group.member_count = member_count
    group.is_full = member_count >= group.max_members
    return rest_payload(StudyGroupEventSerializer, group)


def member_payload(
    group: StudyGroup, member: StudyGroupMember, *, member_count: int, reason: str | None = None
) -> dict:
    """study-group-member-joined (no reason) and -left (`reason`: one of LEFT_REASON_*):
    the group's ids, the member as REST lists it ({userId, name, role, joinedAt}; of a
    member who left: as they were) and the count after the change."""
    from studygroups.serializers import StudyGroupMemberSerializer

    payload = {
        "groupId": str(group.id),
        "courseId": str(group.course_id),
        **rest_payload(StudyGroupMemberSerializer, member),
        "memberCount": member_count,
    }
    if reason is not None:
        payload["reason"] = reason
    return payload


def admin_changed_payload(member: StudyGroupMember) -> dict:
    """The member who became admin, as REST lists them (role "admin")."""
    from studygroups.serializers import StudyGroupMemberSerializer

    return {"groupId": str(member.group_id), **rest_payload(StudyGroupMemberSerializer, member)}


def deleted_payload(group: StudyGroup, *, reason: str, actor: User | None) -> dict:
    return {
        "groupId": str(group.id),
        "courseId": str(group.course_id),
        "reason": reason,
        "deletedBy": _person(actor),
    }


def participant_payload(group_id: uuid.UUID | str, *, user: User) -> dict:
    return {"groupId": str(group_id), "userId": str(user.id), "name": user.name}


def message_deleted_payload(message) -> dict:
    """`study-group-message-deleted`: which message of which group readers must hide."""
    return {"id": str(message.id), "groupId": str(message.group_id)}
