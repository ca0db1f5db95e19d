"""`GET /api/presence/course/:id` for a member, in one Redis round trip, without DRF.

The read every member's client makes on load (a class of hundreds within seconds). The
DRF view (presence.views.CourseOnlineView) is the reference; this path answers only the
requests that view would answer 200, with the same bytes, and leaves every other one to
it. It runs in front of Django's ASGI handler (collab.core.asgi_fast.front, piece
`front`) and, for requests that did not come that way (the test client, `front` off),
inside the view's async_front.

The checks are the view's, none skipped:
- the bearer token: signature and expiry (collab.core.tokens, verified once per process);
- sign-out: the session is not revoked and the token's generation is not below the
  user's (collab.accounts.revocation's keys; a generation Redis does not know, or any
  doubt, leaves the request to DRF, which reads the user row);
- membership: the viewer is among the course snapshot's active members (presence.snapshots;
  admins, strangers and deactivated accounts get DRF's answer);
- the user's rate: the request is counted on DRF's own counter (collab.core.throttling);
  over the rate DRF answers its 429 from that count (rates_counted), not counting twice.

One Lua script asks all of it at once and counts the request only when the token holds
and the viewer is a member of the snapshot this process holds parsed, of the course's
current generation; otherwise (first read after a change) the snapshot is fetched or
built and the script runs once more.
"""

from __future__ import annotations

import re
import time
import uuid

from django.conf import settings

from collab.accounts.revocation import SIGNED_IN_LUA, session_key
from collab.accounts.revocation import generation_key as token_generation_key
from collab.core.asgi_fast.front import request_headers
from collab.core.negotiation import plain_json_accepted
from collab.core.redis_client import async_redis
from collab.core.throttling import counter_key, rates_counted, user_rate, user_throttle_key
from collab.core.tokens import bearer_credentials
from presence import snapshots
from presence.serializers import LIST_MAX_LIMIT

# Django's `<uuid:…>` converter's pattern: lowercase only (an uppercase id is its 404).
PATH = r"/api/presence/course/(?P<course_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
DEFAULT_LIMIT = 100

# KEYS: 1 the user's token generation, 2 the snapshot's stamp, 3 the course's snapshot
# generation, 4 the rate counter, 5 the token's session (absent without a session).
# ARGV: 1 the token's generation, 2 the stamp of the snapshot the caller holds ("" for
# none), 3 1 when the viewer is a member of that snapshot, 4 the counter's lifetime (s).
# Returns {1} revoked, {2} generation unknown (DRF decides), {0, stamp, count} with the
# request counted, or {0, stamp} (the held snapshot is not the current one, or the viewer
# is not a member: not counted). The stamp is "" when there is no current snapshot.
_READ = (
    SIGNED_IN_LUA
    + """
local stamp = redis.call('GET', KEYS[2]) or ''
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if stamp == '' or tonumber(string.match(stamp, '^(%d+):')) ~= current then
  return {0, ''}
end
if stamp ~= ARGV[2] or ARGV[3] ~= '1' then
  return {0, stamp}
end
local count = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])
return {0, stamp, count}
"""
)
_LIMIT = re.compile(r"limit=([1-9][0-9]{0,3})")


def query_limit(query_string: str) -> int | None:
    """The `limit` of a query string the fast path takes: none, or `limit=N` alone with N
    in 1..LIST_MAX_LIMIT written plainly; None for anything else (`?format=`, a bad or
    odd limit, other parameters), which DRF answers."""
    if not query_string:
        return DEFAULT_LIMIT
    match = _LIMIT.fullmatch(query_string)
    if match is None or int(match[1]) > LIST_MAX_LIMIT:
        return None
    return int(match[1])


async def course_online_answer(
    *, authorization: str | None, accept: str | None, query_string: str, course_id: uuid.UUID | str, notes
) -> bytes | None:
    """The 200 body of the course read, or None for DRF to answer. `notes` (the request's
    ASGI scope or HttpRequest) receives the count when the request is counted and left
    to DRF (over the rate). Redis errors propagate (the caller leaves the request to DRF)."""
    if settings.PRESENCE_SNAPSHOT_TTL <= 0 or not plain_json_accepted(accept):
        return None
    limit = query_limit(query_string)
    credentials = bearer_credentials(authorization)
    if limit is None or credentials is None:
        return None
    rate = user_rate()
    if rate is None:
        return None  # no user rate configured: rare; DRF's path is exact
    _, allowed, duration = rate
    viewer = str(credentials.user_id)
    throttle_key = user_throttle_key(viewer)
    keys = [
        token_generation_key(viewer),
        snapshots.stamp_key(course_id),
        snapshots.generation_key(course_id),
        None,
    ]
    if credentials.session_id is not None:
        keys.append(session_key(credentials.session_id))
    script = async_redis().register_script(_READ)
    snapshot = snapshots.snapshot_parsed(course_id)
    for attempt in (1, 2):
        now = time.time()
        keys[3] = counter_key(throttle_key, duration, now)
        held = snapshot["stamp"] if snapshot is not None else ""
        member = snapshot is not None and snapshots.snapshot_lists_member(snapshot, viewer)
        reply = await script(keys=keys, args=[credentials.generation, held, int(member), duration + 1])
        if reply[0] != 0:
            return None  # revoked (DRF's 401) or a generation only the database knows
        if len(reply) == 3:
            count = int(reply[2])
            if count > allowed:
                rates_counted(notes)[throttle_key] = (count, duration - (now % duration))
                return None  # DRF answers the 429 from this count
            snapshots.snapshot_refresh_ahead(course_id, snapshot, now=now)
            return snapshots.snapshot_render(snapshot, viewer_id=viewer, limit=limit, now=now)
        if attempt == 2 or (reply[1] == held and held):
            return None  # not a member of the current snapshot: DRF's 404 (or an admin's 200)
        snapshot = await snapshots.snapshot_get(course_id)
        if snapshot is None:
            return None  # no such course
    return None


async def course_online_front(scope: dict, match: re.Match) -> bytes | None:
    """The front route (collab.core.asgi_fast.front) of the course read."""
    found = request_headers(scope, b"authorization", b"accept")
    if found is None:
        return None
    authorization, accept = found.get(b"authorization"), found.get(b"accept")
    return await course_online_answer(
        authorization=authorization,
        accept=accept,
        query_string=scope.get("query_string", b"").decode("latin-1"),
        course_id=match["course_id"],
        notes=scope,
    )
