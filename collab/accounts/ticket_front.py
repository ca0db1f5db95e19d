"""`POST /api/auth/ws-ticket` for a token Redis vouches for, in one Redis round trip,
without DRF.

Every student's client asks for a ticket when a class starts (hundreds within seconds).
The DRF view (collab.accounts.views.WsTicketView) is the reference; this path answers only
the requests that view would answer 200, with the same body, and leaves every other one to
it. It runs in front of Django's ASGI handler (collab.core.asgi_fast.front, piece `front`)
and, for requests that did not come that way (the test client, `front` off), inside the
view's async_front. Through Django and three round trips to Redis, a class-start storm's
ticket took 100 ms p50 of a member's ~450 ms (docs/performance.md S16).

The checks are the view's, none skipped:
- the bearer token: signature and expiry (collab.core.tokens, verified once per process);
- sign-out: the session is not revoked and the token's generation is not below the
  user's (collab.accounts.revocation's keys; a generation Redis does not know leaves the
  request to DRF, which reads the user row);
- both rates DRF applies here, the user's and the ticket scope's, counted on DRF's own
  counters (collab.core.throttling); over a rate DRF answers its 429 from these counts
  (rates_counted), not counting twice.
One Lua script asks all of it and stores the ticket only when everything holds.
"""

from __future__ import annotations

import re
import time

from django.conf import settings
from rest_framework.settings import api_settings

from collab.accounts.revocation import SIGNED_IN_LUA, generation_key, session_key
from collab.core.asgi_fast.front import request_headers
from collab.core.negotiation import plain_json_accepted
from collab.core.redis_client import async_redis
from collab.core.throttling import ScopedRedisThrottle, counter_key, rates_counted, user_rate, user_throttle_key
from collab.core.tokens import bearer_credentials
from collab.realtime.tickets import ticket_prepare

PATH = r"/api/auth/ws-ticket"
THROTTLE_SCOPE = "ws-ticket"  # WsTicketView's throttle_scope

# KEYS: 1 the user's token generation, 2 the user-rate counter, 3 the ticket-rate
# counter, 4 the ticket, 5 the token's session (absent without a session).
# ARGV: 1 the token's generation, 2 the user rate's limit, 3 its counter's lifetime (s),
# 4 the ticket rate's limit, 5 its counter's lifetime, 6 the ticket's value, 7 its TTL (s).
# Returns SIGNED_IN_LUA's {1} revoked or {2} generation unknown (DRF decides), {3, users,
# tickets} counted and over a rate (DRF's 429), {0, users, tickets} counted and stored.
_ISSUE = (
    SIGNED_IN_LUA
    + """
local users = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
local tickets = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[5])
if users > tonumber(ARGV[2]) or tickets > tonumber(ARGV[4]) then
  return {3, users, tickets}
end
redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[7])
return {0, users, tickets}
"""
)
_ISSUED, _OVER_A_RATE = 0, 3


async def ws_ticket_answer(*, authorization: str | None, accept: str | None, query_string: str, notes) -> bytes | None:
    """The 200 body of the ticket route (`{"ticket", "expires_in"}` as DRF renders it), or
    None for DRF to answer. `notes` (the request's ASGI scope or HttpRequest) receives the
    counts when the request is counted and left to DRF (over a rate). Redis errors
    propagate (the caller leaves the request to DRF, which answers its 503)."""
    if query_string or not plain_json_accepted(accept):
        return None
    credentials = bearer_credentials(authorization)  # as SimpleJWT reads the header
    scoped = ScopedRedisThrottle.THROTTLE_RATES.get(THROTTLE_SCOPE)
    rate = user_rate()
    if credentials is None or scoped is None or rate is None:
        return None  # no token, or a rate not configured (rare: DRF's path is exact)
    _, user_limit, user_duration = rate
    ticket_limit, ticket_duration = ScopedRedisThrottle().parse_rate(scoped)
    user_id = str(credentials.user_id)
    now = time.time()
    counters = [
        (user_throttle_key(user_id), user_duration),
        (user_throttle_key(user_id, THROTTLE_SCOPE), ticket_duration),
    ]
    ticket, ticket_key, value = ticket_prepare(credentials)
    keys = [generation_key(user_id), *(counter_key(key, duration, now) for key, duration in counters), ticket_key]
    if credentials.session_id is not None:
        keys.append(session_key(credentials.session_id))
    ttl = settings.WS_TICKET_TTL_SECONDS
    args = [credentials.generation, user_limit, user_duration + 1, ticket_limit, ticket_duration + 1, value, ttl]
    reply = await async_redis().register_script(_ISSUE)(keys=keys, args=args)
    if reply[0] not in (_ISSUED, _OVER_A_RATE):
        return None  # revoked (DRF's 401) or a generation only the database knows
    noted = rates_counted(notes)
    for count, (key, duration) in zip(reply[1:], counters, strict=True):
        noted[key] = (int(count), duration - (now % duration))
    if reply[0] == _OVER_A_RATE:
        return None  # DRF answers the 429 from these counts
    return _render({"ticket": ticket, "expires_in": ttl})


def _render(data: dict) -> bytes:
    # WsTicketView renders with the default renderer (camelCase JSON), as every view.
    return api_settings.DEFAULT_RENDERER_CLASSES[0]().render(data)


async def ws_ticket_front(scope: dict, match: re.Match) -> bytes | None:
    """The front route (collab.core.asgi_fast.front) of the ticket request."""
    found = request_headers(scope, b"authorization", b"accept")
    if found is None:
        return None
    return await ws_ticket_answer(
        authorization=found.get(b"authorization"),
        accept=found.get(b"accept"),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        notes=scope,
    )
