"""Socket handshake checks: origin, then a ticket or a bearer access token, then the
revocation check REST authentication uses (collab.accounts.revocation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

from collab.accounts.revocation import credentials_revoked_many
from collab.core.asgi_fast.socket_db import socket_db
from collab.core.tokens import Credentials, access_credentials, bearer_credentials
from collab.realtime.groupcommit import GroupCommit
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


# The handshakes of a process that arrive while a batch of them is read go together in
# the next batch: one trip to a database thread, one query for the users, one pipelined
# revocation check and one read of the rooms for all of them. A class-start storm opened
# 500 sockets with 500 such trips, each waiting for a thread and the loop
# (docs/performance.md S18). A lone handshake is read at once.
HANDSHAKE_BATCH_MAX = 100

SocketReads = Callable[[list[tuple[AbstractBaseUser, Credentials]]], list[T]]


def _signed_in_users(credentials: list[Credentials]) -> list[AbstractBaseUser | None]:
    """For each credentials, in order, the active user they vouch for, or None when they
    expired or were revoked (one query and one Redis round trip for all)."""
    live = [item for item in credentials if not item.expired()]
    ids = {item.user_id for item in live}
    users = {user.id: user for user in get_user_model().objects.filter(id__in=ids, is_active=True)} if ids else {}
    checked = [item for item in live if item.user_id in users]
    revoked = credentials_revoked_many([(item, users[item.user_id].token_generation) for item in checked])
    vouched = {id(item) for item, is_revoked in zip(checked, revoked, strict=True) if not is_revoked}
    return [users[item.user_id] if id(item) in vouched else None for item in credentials]


async def signed_in_user(credentials: Credentials) -> AbstractBaseUser | None:
    # A read on the socket pool, not Channels' one database thread, where a class's
    # handshakes queued behind each other's and behind every join (bench profile).
    return (await socket_db(_signed_in_users)([credentials]))[0]


def _handshake_reads(reads: SocketReads, credentials: list[Credentials]) -> list[tuple]:
    users = _signed_in_users(credentials)
    signed_in = [(user, item) for user, item in zip(users, credentials, strict=True) if user is not None]
    read = iter(reads(signed_in) if signed_in else ())
    return [(user, next(read) if user is not None else None) for user in users]


async def _handshake_batch(reads: SocketReads, credentials: list[Credentials]) -> list[tuple]:
    return await socket_db(_handshake_reads)(reads, credentials)


_handshakes = GroupCommit(_handshake_batch, max_batch=HANDSHAKE_BATCH_MAX)


async def authenticate_socket(
    scope: dict, *, reads: SocketReads = lambda signed_in: [None] * len(signed_in)
) -> tuple[AbstractBaseUser, Credentials, T] | None:
    """(user, credentials, what `reads` gave for them) of a handshake's ticket or bearer
    token, or None. `reads([(user, credentials), …])` gives, in order, the database reads
    each socket needs next (e.g. its rooms); it runs in the same trip to a database
    thread as the user rows, batched with other handshakes under way (`_handshakes`)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tickets = query.get("ticket")
    if tickets:
        credentials = await ticket_consume(tickets[0])
    else:
        credentials = bearer_credentials(_header(scope, b"authorization"))
    if credentials is None:
        return None
    user, read = await _handshakes.submit(reads, credentials)
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
