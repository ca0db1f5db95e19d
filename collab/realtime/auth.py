"""Socket handshake checks: origin, then a ticket or a bearer access token."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

from collab.core.tokens import bearer_user_id
from collab.realtime.db import socket_db
from collab.realtime.tickets import ticket_consume


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope: dict) -> bool:
    """Browsers always send Origin, so a page elsewhere cannot ride on a user's cookies
    or tickets; clients that send none (servers, scripts) authenticate by header anyway."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    parsed = urlparse(origin)
    normalised = f"{parsed.scheme}://{parsed.netloc}".lower()
    allowed = {item.rstrip("/").lower() for item in settings.SOCKET_ALLOWED_ORIGINS}
    return "*" in allowed or normalised in allowed


def _bearer_user_id(scope: dict) -> uuid.UUID | None:
    return bearer_user_id(_header(scope, b"authorization"))


def _active_user_sync(user_id: uuid.UUID) -> AbstractBaseUser | None:
    # The configured user model, not an import of accounts: the real-time layer stands
    # below the apps that use it.
    return get_user_model().objects.filter(id=user_id, is_active=True).first()


async def _active_user(user_id: uuid.UUID) -> AbstractBaseUser | None:
    # A read on the socket pool, not Channels' one database thread, where a class's
    # handshakes queued behind each other's and behind every join (bench profile).
    return await socket_db(_active_user_sync)(user_id)


async def authenticate_socket(scope: dict) -> AbstractBaseUser | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tickets = query.get("ticket")
    if tickets:
        user_id = await ticket_consume(tickets[0])
    else:
        user_id = _bearer_user_id(scope)
    if user_id is None:
        return None
    return await _active_user(user_id)
