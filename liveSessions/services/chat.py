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
from collab.core.errors import NotAllowed, NotFound
from collab.courses.membership import member_q
from collab.realtime.broadcast import broadcast_on_commit
from liveSessions import events
from liveSessions.models import LiveSession, SessionMessage, SessionStatus
from liveSessions.permissions import LiveSessionPermission
from liveSessions.selectors import session_get_joinable
from liveSessions.services._common import state_conflict


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
        chat_payload(stored, parent_key="sessionId", parent_id=session_id),
    )
    return stored


@transaction.atomic
def session_message_moderate(*, actor: User, session_id: uuid.UUID, message_id: uuid.UUID) -> SessionMessage:
    """A course staff member (or the owner, an admin) deletes a chat message of a session
    (REST). Session not joinable or message not in it: 404; others who may join: 403
    `not_allowed_to_moderate`; already deleted: 409 `message_already_deleted`."""
    session = session_get_joinable(user=actor, session_id=session_id)
    if not LiveSessionPermission.can_moderate_chat(actor, session):
        raise NotAllowed(
            "Only the session's instructor and course staff can delete messages.", code="not_allowed_to_moderate"
        )
    message = SessionMessage.objects.filter(id=message_id, session_id=session.id).first()
    if message is None:
        raise NotFound("No such message in this session.", code="message_not_found")
    return session_message_delete(message=message, actor=actor)


@transaction.atomic
def session_message_delete(*, message: SessionMessage, actor: User) -> SessionMessage:
    """Moderation (staff from the admin, course staff through session_message_moderate):
    soft delete, and the room sees it vanish."""
    locked = SessionMessage.objects.select_for_update().get(pk=message.pk)
    chat_soft_delete(locked, actor=actor)
    broadcast_on_commit(
        events.session_room(locked.session_id),
        events.MESSAGE_DELETED,
        events.message_deleted_payload(locked.session_id, locked.id),
    )
    return locked
