"""Session chat on the shared chat core (collab.chat).

The send path is what a class of hundreds hits at once, so it stays lean: one
lock-free read that checks both "live" and "may join", one insert, one broadcast
encoded once for the whole room. No lock: a message racing the end of the session is
harmless (it is stored with a time before ended_at or just after; readers see it).
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper

from collab.accounts.models import User
from collab.chat.services import chat_clean_body, chat_payload, chat_soft_delete
from collab.core.errors import NotFound
from collab.courses.membership import member_q
from collab.realtime.broadcast import broadcast_on_commit
from liveSessions import events
from liveSessions.models import LiveSession, SessionMessage, SessionStatus
from liveSessions.serializers import SessionMessageSerializer
from liveSessions.services.common import state_conflict


def _session_chat_access(*, user: User, session_id: uuid.UUID) -> str:
    """One query: the session's status if `user` may join it; NotFound otherwise."""
    row = (
        LiveSession.objects.filter(id=session_id)
        .annotate(course_member=ExpressionWrapper(member_q(user.id, via="course"), output_field=BooleanField()))
        .values("status", "course_id", "instructor_id", "course_member")
        .first()
    )
    allowed = row is not None and (
        user.is_admin or row["course_id"] is None or row["instructor_id"] == user.id or row["course_member"]
    )
    if not allowed:
        raise NotFound("Live session not found.", code="session_not_found")
    return row["status"]


@transaction.atomic
def session_message_send(*, actor: User, session_id: uuid.UUID, message: object) -> SessionMessage:
    body = chat_clean_body(message)
    status = _session_chat_access(user=actor, session_id=session_id)
    if status != SessionStatus.LIVE:
        raise state_conflict(LiveSession(status=status), wanted="live")
    stored = SessionMessage.objects.create(session_id=session_id, author=actor, body=body)
    broadcast_on_commit(
        events.session_room(session_id),
        events.NEW_MESSAGE,
        chat_payload(stored, SessionMessageSerializer),
    )
    return stored


@transaction.atomic
def session_message_delete(*, message: SessionMessage, actor: User) -> SessionMessage:
    """Moderation (the session's instructor over REST, staff from the admin): soft delete,
    and the room sees it vanish. 409 `message_already_deleted` for a deleted message."""
    locked = SessionMessage.objects.select_for_update().get(pk=message.pk)
    chat_soft_delete(locked, actor=actor)
    broadcast_on_commit(
        events.session_room(locked.session_id),
        events.MESSAGE_DELETED,
        events.message_deleted_payload(locked.session_id, locked.id),
    )
    return locked
