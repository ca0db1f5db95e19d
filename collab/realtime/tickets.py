"""Single-use socket tickets: a browser cannot set headers on a WebSocket handshake,
and a JWT must never travel in a URL, so it trades its token for a short-lived ticket.
The ticket carries the credentials of that token (user, signed-in session, generation,
expiry): a socket opened with it is checked and expires exactly as the token would."""

from __future__ import annotations

import json
import secrets
import uuid

from django.conf import settings

from collab.core.redis_client import async_redis, sync_redis
from collab.core.tokens import Credentials


def _key(ticket: str) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:ws-ticket:{ticket}"


def ticket_issue(*, credentials: Credentials) -> str:
    ticket = secrets.token_urlsafe(32)
    value = {
        "user": str(credentials.user_id),
        "sid": credentials.session_id,
        "gen": credentials.generation,
        "exp": credentials.expires_at,
    }
    sync_redis().set(_key(ticket), json.dumps(value), ex=settings.WS_TICKET_TTL_SECONDS)
    return ticket


async def ticket_consume(ticket: str) -> Credentials | None:
    """The credentials the ticket was issued with, or None. GETDEL makes a ticket usable
    once even when two handshakes race with it; Redis expiry makes it worthless after its
    TTL. The caller still asks whether they were revoked since."""
    if not ticket or len(ticket) > 128:
        return None
    raw = await async_redis().getdel(_key(ticket))
    if not raw:
        return None
    try:
        value = json.loads(raw)
        return Credentials(
            user_id=uuid.UUID(value["user"]),
            session_id=value.get("sid"),
            generation=int(value.get("gen") or 0),
            expires_at=float(value["exp"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
