"""Process-wide Redis clients on REDIS_URL (tickets, presence leases, health)."""

from __future__ import annotations

from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings


@lru_cache(maxsize=4)
def _sync_client(url: str) -> redis.Redis:
    # Bounded waits: a Redis that is down or hung costs a request seconds, not forever.
    return redis.Redis.from_url(
        url, decode_responses=True, health_check_interval=30, socket_connect_timeout=2, socket_timeout=5
    )


def sync_redis() -> redis.Redis:
    return _sync_client(settings.REDIS_URL)


_async_clients: dict[tuple[int, str], aioredis.Redis] = {}


def async_redis() -> aioredis.Redis:
    """One client per event loop: redis.asyncio connections belong to the loop that made them."""
    import asyncio

    key = (id(asyncio.get_running_loop()), settings.REDIS_URL)
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
        )
        client = aioredis.Redis(connection_pool=pool)
        _async_clients[key] = client
    return client
