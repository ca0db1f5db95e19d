"""SOCKET_MAX_PER_USER: open sockets per user, counted across every web process.

Each open socket holds a lease in a per-user sorted set in Redis (member: its channel
name; score: when the lease lapses). A handshake takes a lease only while the user holds
fewer than the cap, in one Lua script, so handshakes racing on several processes can
never take more; otherwise the new socket is refused (close 4008) and the user's open
sockets are left alone. Sockets renew their lease while open and drop it on disconnect,
or when their handshake is refused after the lease was taken (1013: Redis failed while
the socket entered its rooms); a crashed process's leases lapse by themselves after
SOCKET_LEASE_SECONDS.

Renewal is per process, not per socket: every SOCKET_LEASE_SECONDS / 3 the web process's
supervisor renews the leases of all its open sockets in one pipelined round trip
(`socket_leases_renew`). A timer per socket cost 10,000 idle sockets 333 Redis calls and
short tasks a second (docs/performance.md change S9).
"""

from __future__ import annotations

import logging
import time
import uuid

import redis
from django.conf import settings

from collab.core.redis_client import async_redis

log = logging.getLogger(__name__)

SOCKET_LEASE_SECONDS = 90

_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _key(user_id: uuid.UUID) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:sockets:{user_id}"


async def socket_lease_take(user_id: uuid.UUID, channel_name: str) -> bool:
    """Takes (or renews) the socket's lease; False when the user is at the cap. If Redis
    cannot answer the socket is let in (logged): the cap guards against abuse, and an
    outage of Redis must not lock every user out."""
    now = time.time()
    try:
        taken = await async_redis().eval(
            _TAKE,
            1,
            _key(user_id),
            now,
            now + SOCKET_LEASE_SECONDS,
            channel_name,
            settings.SOCKET_MAX_PER_USER,
            SOCKET_LEASE_SECONDS * 2,
        )
    except redis.RedisError:
        log.warning("socket cap: Redis unavailable, socket let in")
        return True
    return bool(taken)


async def socket_lease_drop(user_id: uuid.UUID, channel_name: str) -> None:
    try:
        await async_redis().zrem(_key(user_id), channel_name)
    except redis.RedisError:
        log.warning("socket cap: could not drop a lease; it lapses in %s s", SOCKET_LEASE_SECONDS)


async def socket_leases_renew(sockets: list) -> None:
    """Renews the lease of every open socket in `sockets` (authenticated ones) in one
    pipelined round trip; a supervisor hook. Redis trouble is logged: the leases lapse
    only after SOCKET_LEASE_SECONDS, and the next period tries again."""
    held = [(socket.user.id, socket.channel_name) for socket in sockets if getattr(socket, "user", None) is not None]
    if not held:
        return
    now = time.time()
    try:
        pipe = async_redis().pipeline(transaction=False)
        for user_id, channel_name in held:
            key = _key(user_id)
            pipe.zadd(key, {channel_name: now + SOCKET_LEASE_SECONDS})
            pipe.expire(key, SOCKET_LEASE_SECONDS * 2)
        await pipe.execute()
    except redis.RedisError:
        log.warning("socket cap: could not renew %d leases; retried next period", len(held))
