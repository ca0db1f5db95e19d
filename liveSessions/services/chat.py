"""Session chat on the shared chat core (collab.chat).

The send path is what a class of hundreds hits at once, so it stays lean: on PostgreSQL
one statement checks "live" and "may join", inserts the message and its frame
(collab.realtime.fused_write); the frame is encoded once for the whole room. No lock: a
message racing the end of the session is harmless (it is stored with a time before
ended_at or just after; readers see it).
"""

from __future__ import annotations

import uuid
from functools import partial

from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from collab.accounts.models import User
from collab.chat.services import chat_clean_body, chat_payload, chat_soft_delete
from collab.core.db.locks import key_share_sql
from collab.core.errors import NotFound
from collab.courses.membership import member_q
from collab.realtime import fused_write
from collab.realtime.broadcast import broadcast_on_commit
from liveSessions import events
from liveSessions.models import LiveSession, SessionMessage, SessionStatus
from liveSessions.serializers import SessionMessageSerializer
from liveSessions.services.common import state_conflict


def _chat_access_q(user_id: uuid.UUID, *, admin: bool) -> Q:
    """Sessions `user` may chat in (and join): THE rule of this module, read by both send
    paths. Staff admins: all; anyone: a session without a course, their own; otherwise
    a member of its course."""
    if admin:
        return Q(pk__isnull=False)
    return Q(course_id__isnull=True) | Q(instructor_id=user_id) | member_q(user_id, via="course")


def _live_session_open_to(*, user_id: uuid.UUID, session_id: uuid.UUID, admin: bool = False) -> QuerySet:
    """The session `session_id` if it is live and `user_id` may chat in it (`_chat_access_q`)."""
    return LiveSession.objects.filter(_chat_access_q(user_id, admin=admin), id=session_id, status=SessionStatus.LIVE)


def _session_chat_access(*, user: User, session_id: uuid.UUID) -> str:
    """One query: the session's status if `user` may join it; NotFound otherwise. On
    PostgreSQL the session's row is key-share locked to the end of the transaction: the
    message's foreign-key check would take that lock at COMMIT, after the room's seq
    (outbox), the other order from a session's end (its row, then the room), and the two
    would deadlock."""
    rows = (
        LiveSession.objects.filter(id=session_id)
        .annotate(allowed=ExpressionWrapper(_chat_access_q(user.id, admin=user.is_admin), output_field=BooleanField()))
        .values("status", "allowed")
    )
    if connection.vendor != "postgresql":
        row = rows.first()
    else:
        # Django's select_for_update has no KEY SHARE, the one mode chatters share.
        with connection.cursor() as cursor:
            cursor.execute(*key_share_sql(rows[:1]))
            found = cursor.fetchone()
        row = None if found is None else {"status": found[0], "allowed": found[1]}
    if row is None or not row["allowed"]:
        raise NotFound("Live session not found.", code="session_not_found")
    return row["status"]


def session_message_send(*, actor: User, session_id: uuid.UUID, message: object) -> SessionMessage:
    """Stores a chat message of someone who may join the live session `session_id`, and
    sends it to the session's room (`session-new-message`, with seq) once committed.

    Refused: InvalidInput (`message`), NotFound `session_not_found` (no such session, or
    not theirs to see), Conflict (the session not live). Where it can (PostgreSQL, no
    transaction open) the check, the insert and the frame are one statement
    (collab.realtime.fused_write); otherwise, or when that statement refuses, the general
    transaction below, which also says why."""
    body = chat_clean_body(message)
    stored = SessionMessage(id=uuid.uuid4(), session_id=session_id, author=actor, body=body, sent_at=timezone.now())
    if fused_write.available():
        admin = actor.is_admin
        guard = fused_write.Guard(
            partial(_live_session_open_to, admin=admin), admin, user_id=actor.id, session_id=session_id
        )
        payload = chat_payload(stored, SessionMessageSerializer)
        if fused_write.insert_with_frame(
            stored, guard=guard, room=events.session_room(session_id), event=events.NEW_MESSAGE, data=payload
        ):
            return stored
    return _session_message_send(actor=actor, stored=stored)


@transaction.atomic
def _session_message_send(*, actor: User, stored: SessionMessage) -> SessionMessage:
    status = _session_chat_access(user=actor, session_id=stored.session_id)
    if status != SessionStatus.LIVE:
        raise state_conflict(LiveSession(status=status), wanted="live")
    stored.save(force_insert=True)
    broadcast_on_commit(
        events.session_room(stored.session_id),
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
