"""REST rate limits as Redis counters.

DRF's stock throttles keep every request's timestamp in a cache entry they read, unpickle,
rewrite and pickle again on each request: two round trips and O(rate) work, so a user
allowed 6,000 requests a minute rewrites a list of up to 6,000 floats per request. These
count in a fixed window instead: one pipelined INCR + EXPIRE, O(1), shared by every
process. A fixed window can let up to twice the rate through across a window boundary,
which is the usual price for a counter; the limits are abuse guards, not quotas.
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle, UserRateThrottle

from collab.core.redis_client import async_redis, sync_redis


def _count(pipe, key: str, duration: int, now: float) -> None:
    counter = f"{settings.CACHES['default']['KEY_PREFIX']}:{key}:{int(now // duration)}"
    pipe.incr(counter)
    pipe.expire(counter, duration + 1)


class RedisCounterThrottle(SimpleRateThrottle):
    """DRF's SimpleRateThrottle counting in Redis; rate parsing, scopes and cache keys stay
    DRF's. Listed after DRF's class in the subclasses below, so a ScopedRateThrottle
    picks its view's scope first and then counts here."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = time.time()
        pipe = sync_redis().pipeline(transaction=False)
        _count(pipe, self.key, self.duration, now)
        count, _ = pipe.execute()
        self.retry_after = self.duration - (now % self.duration)
        return count <= self.num_requests

    def wait(self) -> float:
        return self.retry_after


class UserRedisThrottle(UserRateThrottle, RedisCounterThrottle):
    """THROTTLE_USER_RATE per user (per client address when anonymous)."""


class ScopedRedisThrottle(ScopedRateThrottle, RedisCounterThrottle):
    """A view's `throttle_scope` rate (e.g. `auth` for login and register), per user or address."""


async def user_rate_allows(user_id: uuid.UUID) -> bool:
    """UserRedisThrottle for an async view outside DRF: counts the request on the same
    counter as the user's DRF requests and says whether it is within the rate."""
    throttle = UserRedisThrottle()
    if throttle.rate is None:
        return True
    key = throttle.cache_format % {"scope": throttle.scope, "ident": user_id}
    pipe = async_redis().pipeline(transaction=False)
    _count(pipe, key, throttle.duration, time.time())
    count, _ = await pipe.execute()
    return count <= throttle.num_requests
