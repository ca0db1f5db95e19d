"""Sign-out that ends access everywhere: one check shared by REST authentication, ticket
minting, the socket handshake, socket re-authentication and the async presence read.

A token is revoked when
- its generation (`gen` claim) is below the user's `token_generation`: "log out
  everywhere", a new password or a deactivation moved it on; or
- its session (`sid` claim) was logged out (`RevokedSession`).

The hot path asks Redis (one GET; the database-free ticket route and course presence
read ask the same keys inside their one script: collab.accounts.ticket_front,
presence.course_read); the generation is compared with the user row that REST authentication and the handshake load
anyway, so neither adds a database query. When Redis cannot answer, the check falls back
to the database (one indexed read of `RevokedSession`): slower, never a 500, and never
letting a revoked session in. Redis only caches the durable rows: if it loses its data,
a logged-out session's access tokens work again until they expire (at most
JWT_ACCESS_MINUTES; its refresh token stays blacklisted in the database).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from collab.accounts.models import RevokedSession, User
from collab.core.redis_client import sync_redis
from collab.core.tokens import Credentials
from collab.realtime.broadcast import sockets_control_on_commit
from collab.realtime.rooms import signin_room, user_room

log = logging.getLogger(__name__)

# Sets the cached generation only upwards: two revocations committing out of order, or a
# login that read the row just before a revocation, never lower it.
_RAISE_GENERATION = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


def _prefix() -> str:
    return settings.CACHES["default"]["KEY_PREFIX"]


def generation_key(user_id: uuid.UUID | str) -> str:
    return f"{_prefix()}:auth:gen:{user_id}"


def session_key(session_id: str) -> str:
    return f"{_prefix()}:auth:revoked:{session_id}"


def _session_lifetime() -> timedelta:
    """The longest a token of a session can still be presented: a refresh token rotated
    in a race with the logout lives REFRESH_TOKEN_LIFETIME, its access tokens a bit more."""
    jwt = settings.SIMPLE_JWT
    return jwt["REFRESH_TOKEN_LIFETIME"] + jwt["ACCESS_TOKEN_LIFETIME"]


# -- the check -------------------------------------------------------------------------


# The check of a caller that loaded the user row, in one round trip: is the session
# signed out (KEYS[2], when the token has one), and the user's generation cached for the
# database-free presence read, only ever upwards (it is lost when Redis restarts, and a
# token minted without a login, e.g. by a script, never had it cached).
_CHECK = """
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  return 1
end
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 0
"""


# The same check inside a fast path's own Lua script (the ticket route, the course
# presence read), with the Redis keys alone: KEYS[1] is the user's generation
# (generation_key), KEYS[5] the token's session (session_key; absent without a session),
# ARGV[1] the token's generation. Returns {1} when the token is revoked and {2} when Redis
# does not know the user's generation (the caller leaves the request to the database
# path); otherwise the script goes on.
SIGNED_IN_LUA = """
if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1 then
  return {1}
end
local generation = redis.call('GET', KEYS[1])
if not generation then
  return {2}
end
if tonumber(ARGV[1]) < tonumber(generation) then
  return {1}
end
"""
REVOKED, GENERATION_UNKNOWN = 1, 2


def credentials_revoked(credentials: Credentials, *, user_generation: int) -> bool:
    """Whether `credentials` were revoked, for a caller that loaded the user row
    (`user_generation` is its `token_generation`). Sync: REST, handshake, tickets.
    One Redis round trip, which also re-caches the user's generation for
    the database-free fast paths (the ticket route's and the course presence read's
    scripts); the database when Redis cannot answer."""
    return credentials_revoked_many([(credentials, user_generation)])[0]


def credentials_revoked_many(checks: list[tuple[Credentials, int]]) -> list[bool]:
    """credentials_revoked() of each (credentials, its user's `token_generation`), in one
    pipelined Redis round trip for all of them (a batch of socket handshakes), in order."""
    revoked = [credentials.generation < generation for credentials, generation in checks]
    asked = [index for index, is_revoked in enumerate(revoked) if not is_revoked]
    if not asked:
        return revoked
    ttl = int(_session_lifetime().total_seconds())
    try:
        client = sync_redis()
        script = client.register_script(_CHECK)
        pipe = client.pipeline(transaction=False)
        for index in asked:
            credentials, generation = checks[index]
            keys = [generation_key(credentials.user_id)]
            if credentials.session_id is not None:
                keys.append(session_key(credentials.session_id))
            script(keys=keys, args=[generation, ttl], client=pipe)
        replies = pipe.execute()
    except redis.RedisError:
        log.warning("revocation check: Redis unavailable, asking the database")
        sessions = {checks[index][0].session_id for index in asked} - {None}
        signed_out = set(RevokedSession.objects.filter(session_id__in=sessions).values_list("session_id", flat=True))
        replies = [checks[index][0].session_id in signed_out for index in asked]
    for index, reply in zip(asked, replies, strict=True):
        revoked[index] = bool(reply)
    return revoked


def generation_publish(*, user_id: uuid.UUID, generation: int) -> None:
    """Caches the user's generation for the database-free fast paths (at token issue and
    after a revocation commits). A failure only costs the fast path."""
    try:
        ttl = int(_session_lifetime().total_seconds())
        sync_redis().eval(_RAISE_GENERATION, 1, generation_key(user_id), generation, ttl)
    except redis.RedisError:
        log.warning("could not cache the token generation of %s", user_id)


# -- revoking --------------------------------------------------------------------------


def sessions_revoke(*, user: User, session_ids: Iterable[str]) -> None:
    """Logs out the given sessions of `user`: their tokens stop working on REST, for
    tickets and for handshakes, and their open sockets are closed, once the surrounding
    transaction commits."""
    session_ids = sorted({sid for sid in session_ids if sid})
    if not session_ids:
        return
    now = timezone.now()
    expires_at = now + _session_lifetime()
    RevokedSession.objects.filter(expires_at__lt=now).delete()
    RevokedSession.objects.bulk_create(
        [RevokedSession(session_id=sid, user=user, expires_at=expires_at) for sid in session_ids],
        ignore_conflicts=True,
    )
    ttl = int(_session_lifetime().total_seconds())

    def cache() -> None:
        try:
            pipe = sync_redis().pipeline(transaction=False)
            for sid in session_ids:
                pipe.set(session_key(sid), "1", ex=ttl)
            pipe.execute()
        except redis.RedisError:
            log.error("could not cache the logout of sessions %s; the database still refuses them", session_ids)

    transaction.on_commit(cache, robust=True)
    for sid in session_ids:
        sockets_control_on_commit(signin_room(sid), close=True)


def user_generation_advance(*, user: User) -> int:
    """Ends every session of `user` (log out everywhere): moves the generation on in the
    database, then revoked_everywhere(). Returns the new generation."""
    User.objects.filter(id=user.id).update(token_generation=F("token_generation") + 1)
    user.token_generation = User.objects.values_list("token_generation", flat=True).get(id=user.id)
    revoked_everywhere(user=user)
    return user.token_generation


def revoked_everywhere(*, user: User) -> None:
    """What follows a generation move (logout-all, new password, deactivation): every
    refresh token of the user is blacklisted now; once the change commits the new
    generation is cached and every socket of the user is closed."""
    outstanding = OutstandingToken.objects.filter(
        user_id=user.id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    ).order_by()
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=token_id) for token_id in outstanding.values_list("id", flat=True)],
        ignore_conflicts=True,
    )
    user_id, generation = user.id, user.token_generation
    transaction.on_commit(lambda: generation_publish(user_id=user_id, generation=generation), robust=True)
    sockets_control_on_commit(user_room(user_id), close=True)
