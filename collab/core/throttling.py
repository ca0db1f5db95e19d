"""REST rate limits as Redis counters.

DRF's stock throttles keep every request's timestamp in a cache entry they read, unpickle,
rewrite and pickle again on each request: two round trips and O(rate) work, so a user
allowed 6,000 requests a minute rewrites a list of up to 6,000 floats per request. These
count in a fixed window instead: one pipelined INCR + EXPIRE, O(1), shared by every
process. A fixed window can let up to twice the rate through across a window boundary,
which is the usual price for a counter; the limits are abuse guards, not quotas.

Anonymous requests are counted per client address, and the address is the one the ASGI
server resolved (`REMOTE_ADDR`): uvicorn replaces the peer with the `X-Forwarded-For`
client only when the peer is a trusted proxy (`FORWARDED_ALLOW_IPS`). DRF's own
get_ident() would believe any client's `X-Forwarded-For`, so one header per request
dodged every anonymous limit. Authenticated requests are counted per user id.

When Redis cannot be reached the limits let requests through (logged): an outage of the
counter store must not turn every request into a 500, and a client cannot cause one.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid

import redis
from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle, UserRateThrottle

from collab.core.redis_client import async_redis, sync_redis

log = logging.getLogger(__name__)


def counter_key(key: str, duration: int, now: float) -> str:
    """The Redis counter of throttle cache key `key` for the window holding `now`."""
    return f"{settings.CACHES['default']['KEY_PREFIX']}:{key}:{int(now // duration)}"


def _count(pipe, key: str, duration: int, now: float) -> None:
    counter = counter_key(key, duration, now)
    pipe.incr(counter)
    pipe.expire(counter, duration + 1)


# Where a fast path in front of DRF notes the counts it made for a request it then leaves
# to DRF (over a rate: DRF answers the 429), so DRF's throttles read them instead of
# counting the request a second time.
RATES_COUNTED = "collab.rates_counted"


def rates_counted(carrier) -> dict[str, tuple[int, float]]:
    """The counts already made for a request, by throttle cache key: (count, seconds to
    the window's end). `carrier` is the request's ASGI scope, a Django HttpRequest or a
    DRF Request; under ASGI all three share the scope's dict."""
    if isinstance(carrier, dict):
        return carrier.setdefault(RATES_COUNTED, {})
    request = getattr(carrier, "_request", carrier)
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        return scope.setdefault(RATES_COUNTED, {})
    if not hasattr(request, "rates_counted"):
        request.rates_counted = {}  # a WSGI request (tests, manage.py)
    return request.rates_counted


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
        counted = rates_counted(request).get(self.key)
        if counted is not None:  # a fast path in front counted this request already
            count, self.retry_after = counted
            return count <= self.num_requests
        now = time.time()
        try:
            pipe = sync_redis().pipeline(transaction=False)
            _count(pipe, self.key, self.duration, now)
            count, _ = pipe.execute()
        except redis.RedisError:
            log.warning("throttle %s: Redis unavailable, request let through", self.scope)
            return True
        self.retry_after = self.duration - (now % self.duration)
        return count <= self.num_requests

    def wait(self) -> float:
        return self.retry_after

    def get_ident(self, request) -> str:
        """The client address the ASGI server resolved; never a header the client sent."""
        return request.META.get("REMOTE_ADDR") or "unknown"


class UserRedisThrottle(UserRateThrottle, RedisCounterThrottle):
    """THROTTLE_USER_RATE per user (per client address when anonymous)."""


class ScopedRedisThrottle(ScopedRateThrottle, RedisCounterThrottle):
    """A view's `throttle_scope` rate (e.g. `auth` for login and register), per user or address."""


def user_rate() -> tuple[str, int, int] | None:
    """UserRedisThrottle's (scope, requests, seconds), or None when it has no rate."""
    throttle = UserRedisThrottle()
    return None if throttle.rate is None else (throttle.scope, throttle.num_requests, throttle.duration)


def user_throttle_key(user_id: uuid.UUID | str, scope: str = "user") -> str:
    """The throttle cache key DRF's throttles use for an authenticated user in `scope`."""
    return UserRedisThrottle.cache_format % {"scope": scope, "ident": user_id}


async def rates_allow(user_id: uuid.UUID, *, scope: str | None = None, request=None) -> bool:
    """The throttles DRF applies to an authenticated request, for an async view outside
    DRF: UserRedisThrottle and, with `scope` (a view's `throttle_scope`),
    ScopedRedisThrottle. Counts the request on the same counters as the user's DRF
    requests, in one round trip, and says whether it is within every rate. True when
    Redis cannot count (the throttles fail open, as DRF's do). With `request` (its ASGI
    scope or HttpRequest) the counts are noted on it (rates_counted): if the request then
    goes to DRF, its throttles take them instead of counting it again."""
    throttle = UserRedisThrottle()
    counters = []
    if throttle.rate is not None:
        counters.append((throttle.scope, throttle.num_requests, throttle.duration))
    rate = ScopedRedisThrottle.THROTTLE_RATES.get(scope) if scope is not None else None
    if rate is not None:
        counters.append((scope, *throttle.parse_rate(rate)))
    if not counters:
        return True
    now = time.time()
    try:
        pipe = async_redis().pipeline(transaction=False)
        for name, _, duration in counters:
            _count(pipe, throttle.cache_format % {"scope": name, "ident": user_id}, duration, now)
        replies = await pipe.execute()
    except redis.RedisError:
        return True
    counts = replies[::2]
    if request is not None:
        noted = rates_counted(request)
        for count, (name, _, duration) in zip(counts, counters, strict=True):
            noted[throttle.cache_format % {"scope": name, "ident": user_id}] = (count, duration - (now % duration))
    return all(count <= limit for count, (_, limit, _) in zip(counts, counters, strict=True))


def scope_rate_wait(scope: str, ident: str) -> float | None:
    """Counts one request of `ident` against the `scope` rate of DEFAULT_THROTTLE_RATES
    (the same counters ScopedRedisThrottle uses) for callers outside DRF, such as the
    admin login form. Seconds to wait when over the rate, else None."""
    throttle = ScopedRedisThrottle()
    rate = throttle.THROTTLE_RATES.get(scope)
    if rate is None:
        return None
    num_requests, duration = throttle.parse_rate(rate)
    key = throttle.cache_format % {"scope": scope, "ident": ident}
    now = time.time()
    try:
        pipe = sync_redis().pipeline(transaction=False)
        _count(pipe, key, duration, now)
        count, _ = pipe.execute()
    except redis.RedisError:
        return None
    return duration - (now % duration) if count > num_requests else None


class FailureLimit:
    """At most `limit` failures per key (e.g. per account) in a window that opens with
    the first failure and closes `window` seconds later, whatever happens in between:
    an attacker spread over many addresses gets `limit` guesses per window, and the real
    user is never locked out longer than one window. Counted in Redis, shared by every
    process; keys are hashed so no address or email is stored in clear."""

    def __init__(self, name: str, *, limit: int, window: int):
        self.name, self.limit, self.window = name, limit, window

    def _key(self, ident: str) -> str:
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        return f"{settings.CACHES['default']['KEY_PREFIX']}:failures:{self.name}:{digest}"

    def retry_after(self, ident: str) -> int | None:
        """Seconds until `ident` may try again, or None when it may try now."""
        try:
            pipe = sync_redis().pipeline(transaction=False)
            pipe.get(self._key(ident))
            pipe.ttl(self._key(ident))
            count, ttl = pipe.execute()
        except redis.RedisError:
            log.warning("failure limit %s: Redis unavailable, attempt let through", self.name)
            return None
        if count is None or int(count) < self.limit:
            return None
        return max(int(ttl), 1)

    def record_failure(self, ident: str) -> None:
        key = self._key(ident)
        try:
            pipe = sync_redis().pipeline(transaction=False)
            pipe.set(key, 0, ex=self.window, nx=True)  # the window opens with the first failure
            pipe.incr(key)
            pipe.execute()
        except redis.RedisError:
            log.warning("failure limit %s: Redis unavailable, failure not counted", self.name)

    def clear(self, ident: str) -> None:
        try:
            sync_redis().delete(self._key(ident))
        except redis.RedisError:
            pass


def login_failures() -> FailureLimit:
    """Failed sign-ins per target account (REST login and the admin form share it)."""
    return FailureLimit("login", limit=settings.LOGIN_FAILURE_LIMIT, window=settings.LOGIN_FAILURE_WINDOW)
