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


def _new_ticket(credentials: Credentials) -> tuple[str, str]:
    """A fresh ticket and the JSON value stored under it."""
    value = {
        "user": str(credentials.user_id),
        "sid": credentials.session_id,
        "gen": credentials.generation,
        "exp": credentials.expires_at,
    }
    return secrets.token_urlsafe(32), json.dumps(value)


def ticket_issue(*, credentials: Credentials) -> str:
    """A new single-use ticket carrying `credentials`, valid WS_TICKET_TTL_SECONDS (one
    Redis SET). Raises redis.RedisError when Redis cannot store it."""
    ticket, value = _new_ticket(credentials)
    sync_redis().set(_key(ticket), value, ex=settings.WS_TICKET_TTL_SECONDS)
    return ticket


def ticket_prepare(credentials: Credentials) -> tuple[str, str, str]:
    """(ticket, its Redis key, its value) of a new ticket carrying `credentials`, for a
    caller that stores it itself, with SET … EX WS_TICKET_TTL_SECONDS (the ticket
    route's one-script path: collab.accounts.ticket_front)."""
    ticket, value = _new_ticket(credentials)
    return ticket, _key(ticket), value


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
