"""Connection leases in Redis: who is live, across tabs, processes and crashes.

The core keeps them because more than one app asks "is this user still connected":
presence takes, renews and sweeps them (presence.consumers, presence.services) and turns
them into a status; live sessions read them to free the seats of dead sockets
(`leases_swept`, collab.realtime.signals). The key names keep their `presence:` prefix.

Every open socket holds a lease (id `ws:<random>`, kept in `socket.state`); a client
without a socket holds the lease `http` through `POST /api/presence/heartbeat`. A lease
is a member of the user's sorted set, scored by its expiry (epoch seconds):

    <prefix>:presence:leases:<userId>   ZSET lease id -> expiry
    <prefix>:presence:online            ZSET userId   -> latest expiry of that user's leases
    <prefix>:presence:seen:<userId>     STRING, set NX for PRESENCE_WRITE_MIN_INTERVAL:
                                        the slot for the next lastSeenAt database write

A user is live while their `online` score lies in the future. Nothing has to run for a
lease to lapse, so a process killed with SIGKILL leaves its users live for at most
PRESENCE_OFFLINE_AFTER seconds; the sweep (presence.sweep.presence_sweep) then finds
them in `online` by score and announces them offline.

Each change is one Lua script, atomic in Redis. That is what decides "first lease"
(the user turns live) and "last lease" (the user turns offline) when two sockets of
one user connect or disconnect at once in different processes: exactly one of them
sees the transition. Opening a second tab or closing one of two is no transition.

Every command here goes through the clients that retry a connection error once
(collab.core.redis_client, `repeatable=True`): after Redis restarts, a pooled connection
is dead until a command finds out, and a lost release kept its user online for
PRESENCE_OFFLINE_AFTER. A script run twice (Redis ran it, the reply was lost) is
repaired: a repeated touch misses "first lease" (the re-assert announces a connected
user shown offline: presence.consumers.presence_reassert_leases), a repeated release or
sweep misses "last lease" (the sweep reconciles a user announced visible without a live
lease). A release that fails even so is kept by its process and retried
(presence.consumers).

The scripts touch the per-user key named from ARGV inside the sweep, which is fine on
a single Redis (what the channel layer uses too) but not on Redis Cluster.
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings

from collab.core.redis_client import async_redis, sync_redis

HTTP_LEASE = "http"

# KEYS: leases, online. ARGV: userId, leaseId, now, expiry, key ttl.
# Returns 1 when the user had no live lease before (the user just turned live).
_TOUCH = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[2], top[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
if before == 0 then return 1 end
return 0
"""

# KEYS: leases, online. ARGV: userId, leaseId, now.
# Returns 1 when the user has no live lease left after this release (the user turned
# offline), even when the user was no longer in `online`: a release run twice (a lost
# reply), or of a lease Redis lost (it restarted empty), still has the caller reconcile
# the user, who would otherwise show online until the sweep. Of two releases of a
# user's last two leases, only the later one sees none left.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[2], top[2], ARGV[1])
return 0
"""

# KEYS: online. ARGV: now, lease key prefix, batch size.
# Returns a flat list [userId, lastExpiry, ...] of users whose leases all lapsed; each
# is removed from `online` here, so two sweeps at once never both return the same user.
_SWEEP = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local gone = {}
for i = 1, #due, 2 do
  local uid, score = due[i], due[i + 1]
  local key = ARGV[2] .. uid
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  if redis.call('ZCARD', key) == 0 then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], uid)
    table.insert(gone, uid)
    table.insert(gone, score)
  else
    local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    redis.call('ZADD', KEYS[1], top[2], uid)
  end
end
return gone
"""

# KEYS: leases, online. ARGV: userId. Drops every lease of the user (admin force offline).
_DROP_ALL = """
redis.call('DEL', KEYS[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
"""


def _prefix() -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:presence"


def leases_key(user_id: uuid.UUID | str) -> str:
    return f"{_prefix()}:leases:{user_id}"


def online_key() -> str:
    return f"{_prefix()}:online"


def seen_key(user_id: uuid.UUID | str) -> str:
    return f"{_prefix()}:seen:{user_id}"


def lease_ttl() -> int:
    return int(settings.PRESENCE_OFFLINE_AFTER)


def renew_after() -> float:
    """How old a socket's renewal may get before its traffic renews the lease again:
    renewing on every frame would cost a Redis round trip per frame for nothing."""
    return max(0.2, min(5.0, lease_ttl() / 4))


def new_socket_lease_id() -> str:
    return f"ws:{uuid.uuid4().hex}"


def _touch_args(user_id, lease_id: str, now: float) -> tuple[list[str], list]:
    ttl = lease_ttl()
    return [leases_key(user_id), online_key()], [str(user_id), lease_id, now, now + ttl, ttl + 60]


# -- sync (services, views, Celery) ---------------------------------------------------


def lease_touch(*, user_id: uuid.UUID | str, lease_id: str, now: float | None = None) -> bool:
    """Takes or renews a lease; True when the user just turned live."""
    keys, args = _touch_args(user_id, lease_id, time.time() if now is None else now)
    return bool(sync_redis(repeatable=True).register_script(_TOUCH)(keys=keys, args=args))


def lease_release(*, user_id: uuid.UUID | str, lease_id: str, now: float | None = None) -> bool:
    """Releases a lease; True when it was the user's last live one."""
    now = time.time() if now is None else now
    keys = [leases_key(user_id), online_key()]
    return bool(sync_redis(repeatable=True).register_script(_RELEASE)(keys=keys, args=[str(user_id), lease_id, now]))


def leases_drop_all(*, user_id: uuid.UUID | str) -> bool:
    keys = [leases_key(user_id), online_key()]
    return bool(sync_redis(repeatable=True).register_script(_DROP_ALL)(keys=keys, args=[str(user_id)]))


def leases_sweep(*, now: float | None = None, batch: int = 1000) -> list[tuple[str, float]]:
    """Takes out of `online` the users whose leases all lapsed: [(userId, lastExpiry)]."""
    now = time.time() if now is None else now
    flat = sync_redis(repeatable=True).register_script(_SWEEP)(
        keys=[online_key()], args=[now, f"{_prefix()}:leases:", batch]
    )
    return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]


def live_expiries(user_ids: list, *, now: float | None = None) -> dict[str, float]:
    """Each live user's latest lease expiry, for any number of users in one round trip."""
    if not user_ids:
        return {}
    now = time.time() if now is None else now
    ids = [str(user_id) for user_id in user_ids]
    scores = sync_redis(repeatable=True).zmscore(online_key(), ids)
    return {uid: score for uid, score in zip(ids, scores, strict=True) if score is not None and score > now}


def is_live(user_id: uuid.UUID | str) -> bool:
    return str(user_id) in live_expiries([user_id])


def live_user_ids() -> list[str]:
    """Every live user (the `online` set is bounded by the users actually connected)."""
    return sync_redis(repeatable=True).zrangebyscore(online_key(), f"({time.time()}", "+inf")


def seen_write_slot_take(*, user_id: uuid.UUID | str) -> bool:
    """True at most once per PRESENCE_WRITE_MIN_INTERVAL per user, across processes:
    whoever gets True may write lastSeenAt to the database."""
    interval = int(settings.PRESENCE_WRITE_MIN_INTERVAL)
    if interval <= 0:
        return True
    return bool(sync_redis().set(seen_key(user_id), "1", nx=True, ex=interval))


def seen_write_slot_mark(*, user_id: uuid.UUID | str) -> None:
    """Someone just wrote lastSeenAt: heartbeats skip the database for one interval."""
    seen_write_slot_mark_many([user_id])


def seen_write_slot_mark_many(user_ids: list) -> None:
    """`seen_write_slot_mark` for many users in one pipelined round trip (a batch of
    presence syncs wrote all their lastSeenAt in one transaction)."""
    interval = int(settings.PRESENCE_WRITE_MIN_INTERVAL)
    if interval <= 0 or not user_ids:
        return
    if len(user_ids) == 1:
        sync_redis().set(seen_key(user_ids[0]), "1", ex=interval)
        return
    pipe = sync_redis().pipeline(transaction=False)
    for user_id in user_ids:
        pipe.set(seen_key(user_id), "1", ex=interval)
    pipe.execute()


# -- async (socket hooks, on the event loop) ------------------------------------------


async def seen_write_slot_take_async(*, user_id: uuid.UUID | str) -> bool:
    interval = int(settings.PRESENCE_WRITE_MIN_INTERVAL)
    if interval <= 0:
        return True
    return bool(await async_redis().set(seen_key(user_id), "1", nx=True, ex=interval))


async def lease_touch_async(*, user_id: uuid.UUID | str, lease_id: str, now: float | None = None) -> bool:
    keys, args = _touch_args(user_id, lease_id, time.time() if now is None else now)
    return bool(await async_redis(repeatable=True).register_script(_TOUCH)(keys=keys, args=args))


async def leases_touch_many_async(held: list[tuple]) -> list:
    """Renews many (userId, leaseId) leases in one pipelined round trip; returns the user
    ids that had no live lease before (Redis lost them, e.g. it restarted)."""
    now = time.time()
    script = async_redis(repeatable=True).register_script(_TOUCH)
    pipe = async_redis(repeatable=True).pipeline(transaction=False)
    for user_id, lease_id in held:
        keys, args = _touch_args(user_id, lease_id, now)
        await script(keys=keys, args=args, client=pipe)
    results = await pipe.execute()
    return list(dict.fromkeys(user_id for (user_id, _), first in zip(held, results, strict=True) if first))


def leases_settled() -> bool:
    """Whether the leases in Redis can be trusted to say who is connected: False while
    Redis is younger than two re-assert periods (plus a margin), i.e. when it may have
    restarted without its data and the web processes have not all re-taken their sockets'
    leases yet. The sweep does nothing meanwhile."""
    uptime = int(sync_redis(repeatable=True).info("server").get("uptime_in_seconds", 0))
    return uptime >= 2 * float(settings.PRESENCE_REASSERT_INTERVAL) + 5


async def lease_release_async(*, user_id: uuid.UUID | str, lease_id: str, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    keys = [leases_key(user_id), online_key()]
    return bool(
        await async_redis(repeatable=True).register_script(_RELEASE)(keys=keys, args=[str(user_id), lease_id, now])
    )
