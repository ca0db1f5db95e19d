"""Chat behaviour shared by every chat: validation, history, payloads, moderation."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from django.db.models import QuerySet
from django.utils import timezone

from collab.accounts.models import User
from collab.chat.models import MESSAGE_MAX_LENGTH, ChatMessage
from collab.core.errors import Conflict
from collab.core.jsonframes import rest_payload
from collab.core.params import Cursor, keyset_page
from collab.core.text import clean_text

M = TypeVar("M", bound=ChatMessage)

HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100


def chat_clean_body(raw: object) -> str:
    """The text rule (collab.core.text) for a chat message: 1..2000 characters. Raises
    InvalidInput (code `invalid`, field `message`)."""
    return clean_text(raw, field="message", max_length=MESSAGE_MAX_LENGTH)


def chat_history(
    messages: QuerySet[M], *, cursor: Cursor | None, before: datetime | None, limit: int
) -> tuple[list[M], str | None]:
    """Visible messages, newest first by (sentAt, id): `limit` of them after `cursor`
    (the last page's `nextCursor`) and sent strictly before `before`; and the cursor of
    the next page, None when there is none."""
    visible = messages.filter(deleted_at__isnull=True).select_related("author")
    if before is not None:
        visible = visible.filter(sent_at__lt=before)
    return keyset_page(visible, time_field="sent_at", cursor=cursor, limit=limit)


def chat_payload(message: ChatMessage, serializer_class) -> dict:
    """The socket payload of one message: its REST history item (the app's
    ChatMessageSerializer subclass), so both doors send the same JSON."""
    return rest_payload(serializer_class, message)


def chat_soft_delete(message: M, *, actor: User) -> M:
    """Marks a message deleted (moderation). The caller holds the transaction and
    broadcasts the deletion; a message already deleted is a conflict."""
    if message.deleted_at is not None:
        raise Conflict("This message is already deleted.", code="message_already_deleted")
    message.deleted_at = timezone.now()
    message.deleted_by = actor
    message.save(update_fields=["deleted_at", "deleted_by"])
    return message
