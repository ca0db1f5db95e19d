"""Socket handshake checks: origin, then a ticket or a bearer access token, then the
revocation check REST authentication uses (collab.accounts.revocation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

from collab.accounts.revocation import credentials_revoked
from collab.core.asgi_fast.socket_db import socket_db
from collab.core.tokens import Credentials, access_credentials, bearer_credentials
from collab.realtime.tickets import ticket_consume

T = TypeVar("T")


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


def _signed_in_user(credentials: Credentials) -> AbstractBaseUser | None:
    """The active user the credentials vouch for, unless they expired or were revoked."""
    if credentials.expired():
        return None
    user = get_user_model().objects.filter(id=credentials.user_id, is_active=True).first()
    if user is None or credentials_revoked(credentials, user_generation=user.token_generation):
        return None
    return user


async def signed_in_user(credentials: Credentials) -> AbstractBaseUser | None:
    # A read on the socket pool, not Channels' one database thread, where a class's
    # handshakes queued behind each other's and behind every join (bench profile).
    return await socket_db(_signed_in_user)(credentials)


def _signed_in_user_and(credentials: Credentials, reads: Callable[[AbstractBaseUser, Credentials], T]) -> tuple:
    user = _signed_in_user(credentials)
    return user, (reads(user, credentials) if user is not None else None)


async def authenticate_socket(
    scope: dict, *, reads: Callable[[AbstractBaseUser, Credentials], T] = lambda user, credentials: None
) -> tuple[AbstractBaseUser, Credentials, T] | None:
    """(user, credentials, `reads(user, credentials)`) of a handshake's ticket or bearer token, or
    None. `reads` (database reads the socket needs next, e.g. its rooms) runs in the same
    trip to a database thread as the user row: in a class-start storm every trip waits
    for a thread and for the event loop (docs/performance.md S12)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tickets = query.get("ticket")
    if tickets:
        credentials = await ticket_consume(tickets[0])
    else:
        credentials = bearer_credentials(_header(scope, b"authorization"))
    if credentials is None:
        return None
    user, read = await socket_db(_signed_in_user_and)(credentials, reads)
    return (user, credentials, read) if user is not None else None


async def reauthenticate(user: AbstractBaseUser, data: dict) -> Credentials | None:
    """New credentials for an open socket of `user` from a `reauth` frame's
    `{"token": …}` or `{"ticket": …}`, or None if they are not valid for this user."""
    token, ticket = data.get("token"), data.get("ticket")
    if isinstance(ticket, str) and ticket:
        credentials = await ticket_consume(ticket)
    elif isinstance(token, str) and token:
        credentials = access_credentials(token)
    else:
        return None
    if credentials is None or credentials.user_id != user.id:
        return None
    return credentials if await signed_in_user(credentials) is not None else None
