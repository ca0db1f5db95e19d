"""Django's Redis cache with one connection pool per process.

Under ASGI every request runs its sync code in a thread of its own, and Django keeps a
cache object per thread; the stock backend gives each one its own connection pool, so
each request (the rate throttle reads and writes the cache on every one) opened a new
TCP connection to Redis (bench/ profile, docs/performance.md). redis-py pools are
thread-safe, so this backend shares one per server URL and process.
"""

from __future__ import annotations

import os
import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[tuple[int, str], object] = {}
_pools_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        url = self._servers[self._get_connection_pool_index(write)]
        # Keyed by pid too: a forked Celery child must not reuse its parent's sockets.
        key = (os.getpid(), url)
        pool = _pools.get(key)
        if pool is None:
            with _pools_lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = self._pool_class.from_url(url, **self._pool_options)
                    _pools[key] = pool
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
