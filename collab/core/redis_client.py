"""Process-wide Redis clients on REDIS_URL (tickets, presence leases, health).

Two kinds of client, each with its own pool:

- `sync_redis()` / `async_redis()`: a command is sent once. A connection error reaches
  the caller, which decides (most refuse with `service_unavailable`).
- `sync_redis(repeatable=True)` / `async_redis(repeatable=True)`: for commands that are
  safe to run twice (reads, and scripts whose repeat is repaired: the lease scripts of
  collab.realtime.leases). A command that fails with a *connection* error (not a
  timeout) is sent once more at once on the same connection, reconnected: redis-py's own
  `Retry` (`Retry(NoBackoff(), 1, (ConnectionError,))` on the pool's connections).

Why: after Redis restarts, a connection idle in a pool is dead, and redis-py only finds
out when a command's reply does not come ("Connection closed by server"). Without the
retry, the first lease release on such a connection failed and the user showed online
until the lease lapsed (PRESENCE_OFFLINE_AFTER). A connection error can also come after
Redis ran the command and before its reply arrived; then the command runs twice, which
is why only repeatable commands use this client. Timeouts are not retried: a hung Redis
costs a caller one `socket_timeout`, not two.
"""

from __future__ import annotations

from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry


def _retry_kwargs(repeatable: bool, retry_class: type) -> dict:
    if not repeatable:
        return {}
    return {"retry": retry_class(NoBackoff(), 1, supported_errors=(RedisConnectionError,))}


@lru_cache(maxsize=8)
def _sync_client(url: str, repeatable: bool) -> redis.Redis:
    # Bounded waits: a Redis that is down or hung costs a request seconds, not forever.
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=2,
        socket_timeout=5,
        **_retry_kwargs(repeatable, Retry),
    )


def sync_redis(*, repeatable: bool = False) -> redis.Redis:
    """The process's client; `repeatable=True`: the one that retries a connection error
    once (only for commands safe to run twice, module docstring)."""
    return _sync_client(settings.REDIS_URL, repeatable)


_async_clients: dict[tuple[int, str, bool], aioredis.Redis] = {}


def async_redis(*, repeatable: bool = False) -> aioredis.Redis:
    """One client per event loop: redis.asyncio connections belong to the loop that made
    them. `repeatable=True`: the one that retries a connection error once (module docstring)."""
    import asyncio

    key = (id(asyncio.get_running_loop()), settings.REDIS_URL, repeatable)
    client = _async_clients.get(key)
    if client is None:
        # A blocking pool: a burst (hundreds of sockets connecting or closing at once, each
        # touching its presence lease) waits briefly for a connection instead of failing
        # with redis-py's "Too many connections" at the default cap of 100 (bench/).
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            decode_responses=True,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            timeout=20,
            socket_connect_timeout=2,
            socket_timeout=5,
            **_retry_kwargs(repeatable, AsyncRetry),
        )
        client = aioredis.Redis(connection_pool=pool)
        _async_clients[key] = client
    return client
