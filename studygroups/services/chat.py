"""Study-group chat: messages sent to the group's room and deleted by moderators."""

from __future__ import annotations

import uuid

from django.db import transaction

from collab.accounts.models import User
from collab.chat.services import chat_clean_body, chat_payload, chat_soft_delete
from collab.core.errors import NotAllowed, NotFound
from collab.realtime.broadcast import broadcast_on_commit
from studygroups import events
from studygroups.models import StudyGroupMessage
from studygroups.permissions import StudyGroupPermission
from studygroups.selectors import group_get_for_member, group_get_visible, membership_get
from studygroups.serializers import GroupMessageSerializer
from studygroups.services.common import require_active


@transaction.atomic
def study_group_message_send(*, actor: User, group_id: uuid.UUID | str, body: object) -> StudyGroupMessage:
    """Stores a chat message of a member of an active group and sends it to the room."""
    text = chat_clean_body(body)
    group = group_get_for_member(user=actor, group_id=group_id)
    require_active(group)
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
        events.message_deleted_payload(message),
    )
    return message
