"""Single-use socket tickets: a browser cannot set headers on a WebSocket handshake,
and a JWT must never travel in a URL, so it trades its token for a short-lived ticket."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings

from collab.core.redis_client import async_redis, sync_redis


def _key(ticket: str) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:ws-ticket:{ticket}"


def ticket_issue(*, user_id: uuid.UUID) -> str:
    ticket = secrets.token_urlsafe(32)
    sync_redis().set(_key(ticket), str(user_id), ex=settings.WS_TICKET_TTL_SECONDS)
    return ticket


async def ticket_consume(ticket: str) -> uuid.UUID | None:
    """The user the ticket was issued to, or None. GETDEL makes a ticket usable once even
    when two handshakes race with it; Redis expiry makes it worthless after its TTL."""
    if not ticket or len(ticket) > 128:
        return None
    user_id = await async_redis().getdel(_key(ticket))
    return uuid.UUID(user_id) if user_id else None
