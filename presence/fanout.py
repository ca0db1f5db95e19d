"""Coalesced fan-out of presence changes to course rooms.

A storm of connects (a class of 500 joining within seconds) would otherwise send every
member one frame per arriving classmate. Instead each course room gets at most one
presence frame per window (PRESENCE_BROADCAST_WINDOW seconds, default 0.6, so at most
two frames in any second), shared by every process through Redis:

- A change for a room with no open window is sent at once (plain `presence-changed`)
  and opens a window, owned by the sender (a random token in `window:<room>`).
- Changes while a window is open wait in the hash `pending:<room>`, one entry per
  user, the latest winning.
- When the window ends its owner drains the hash: nothing waiting closes the window;
  one change goes out as `presence-changed`, several as one `presence-batch
  {users: [...]}`, and a new window starts.

Both steps are Lua scripts, so an entry is either sent now or left for an owner who
will drain it. If the owner process dies, its window lapses after three windows and the
next change for that room sends whatever was left waiting along with itself.

A window of 0 turns coalescing off (every change is sent at once).
"""

from __future__ import annotations

import logging
import secrets
import threading

from asgiref.sync import async_to_sync
from django.conf import settings

from collab.core.jsonframes import dumps, loads
from collab.core.redis_client import sync_redis
from collab.realtime.broadcast import broadcast_now
from presence.events import PRESENCE_BATCH, PRESENCE_CHANGED
from presence.snapshots import snapshot_drop_for_room

log = logging.getLogger(__name__)

# KEYS: window, pending. ARGV: userId, payload, token, window lifetime (ms).
# Returns the payloads to send now, or false when the change waits for the window's owner.
_OFFER = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return false
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local waiting = redis.call('HVALS', KEYS[2])
redis.call('DEL', KEYS[2])
return waiting
"""

# KEYS: window, pending. ARGV: token, window lifetime (ms).
# Returns false when the window is not ours any more, else what waited (maybe nothing;
# then the window is closed).
_DRAIN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
local waiting = redis.call('HVALS', KEYS[2])
if #waiting == 0 then
  redis.call('DEL', KEYS[1])
  return {}
end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return waiting
"""


def window_seconds() -> float:
    return settings.PRESENCE_BROADCAST_WINDOW


def _keys(room: str) -> list[str]:
    prefix = f"{settings.CACHES['default']['KEY_PREFIX']}:presence"
    return [f"{prefix}:window:{room}", f"{prefix}:pending:{room}"]


def _lifetime_ms(window: float) -> int:
    # Long enough that the owner's timer fires first; short enough to recover from a
    # dead owner quickly.
    return max(1, int(window * 3000))


def _send(room: str, payloads: list[dict]) -> None:
    """Runs after the commit or in a drain timer thread: there is no transaction left
    to wait for, so it sends at once (broadcast_now, encoded once for the room) and
    never touches the database (a timer thread must not open a connection)."""
    if not payloads:
        return
    # Before the frame: a client that reads the course's presence after receiving it
    # must not be answered from a snapshot that predates it (presence.snapshots).
    snapshot_drop_for_room(room)
    if len(payloads) == 1:
        event, data = PRESENCE_CHANGED, payloads[0]
    else:
        event, data = PRESENCE_BATCH, {"users": payloads}
    try:
        async_to_sync(broadcast_now)(room, event, data)
    except Exception:
        # The change is committed; a lost frame must not break the caller.
        log.exception("presence broadcast to %s failed", room)


def announce(rooms: list[str], payload: dict) -> None:
    """Sends one user's change to each room, coalesced per room. Call after commit."""
    window = window_seconds()
    for room in rooms:
        if window <= 0:
            _send(room, [payload])
            continue
        token = secrets.token_hex(8)
        try:
            waiting = sync_redis().register_script(_OFFER)(
                keys=_keys(room), args=[payload["userId"], dumps(payload), token, _lifetime_ms(window)]
            )
        except Exception:
            # Redis trouble must not lose the change: send it uncoalesced.
            log.exception("presence fan-out to %s failed; sending directly", room)
            _send(room, [payload])
            continue
        if waiting is None:
            continue
        _send(room, [loads(item) for item in waiting])
        _schedule_drain(room, token, window)


def _schedule_drain(room: str, token: str, window: float) -> None:
    timer = threading.Timer(window, _drain, args=(room, token, window))
    timer.daemon = True
    timer.start()


def _drain(room: str, token: str, window: float) -> None:
    try:
        waiting = sync_redis().register_script(_DRAIN)(keys=_keys(room), args=[token, _lifetime_ms(window)])
    except Exception:
        # The window lapses on its own; the next change sends what waited.
        log.exception("presence fan-out drain of %s failed", room)
        return
    if not waiting:
        return
    _send(room, [loads(item) for item in waiting])
    _schedule_drain(room, token, window)
