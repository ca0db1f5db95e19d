"""Coalesced announcements to one room, shared by every process through Redis.

A storm of changes in a large room (500 students joining a live session within seconds)
would send every member one frame per change: N changes to N members is N² frames.
A `Coalescer` sends at most one frame per room per window instead:

- `offer(room, key, payload, open_window)`: with no window open for the room, the change
  is the caller's to send as usual (`SINGLE`), unless `open_window` asks for one (the room
  is large): then a window opens, owned by this call, and the change is returned to be
  sent now as a batch of one. While a window is open every change waits in the hash
  `pending:<room>`, one entry per key, the latest winning: order is kept, since nothing
  for the room is sent around a waiting change.
- When the window ends its owner drains the hash: nothing waiting closes the window,
  otherwise what waited goes out as one batch and a new window starts.

Both steps are Lua scripts, so a change is either sent now or left for an owner who will
drain it. If the owner process dies its window lapses after three windows, and the next
change sends what was left waiting with itself. Redis trouble sends the change as
`SINGLE` (never lost). Batches are sent by the `send` callable given to the Coalescer,
from the committing thread or a timer thread: it must not touch the database.

Used by presence.fanout (every change opens a window) and liveSessions.announce (only
large rooms open one).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

from django.conf import settings

from collab.core.jsonframes import dumps, loads
from collab.core.redis_client import sync_redis

log = logging.getLogger(__name__)

SINGLE = "single"  # send it yourself, as the room's usual events
BATCHED = "batched"  # sent now or later in a batch

# KEYS: window, pending. ARGV: token, window lifetime (ms).
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


# `_OFFER` for several changes of one room in order. KEYS: window, pending. ARGV: token,
# window lifetime (ms), then (key, payload, open) per change. Returns per change "single",
# "wait", or the payloads to send now (at most one window opens: every change after it
# waits, so the "single" ones all come before it).
_OFFER_MANY = """
local results = {}
local n = (#ARGV - 2) / 3
for i = 0, n - 1 do
  local key, payload, open = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('HSET', KEYS[2], key, payload)
    results[i + 1] = 'wait'
  elseif open == '0' and redis.call('EXISTS', KEYS[2]) == 0 then
    results[i + 1] = 'single'
  else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    redis.call('HSET', KEYS[2], key, payload)
    results[i + 1] = redis.call('HVALS', KEYS[2])
    redis.call('DEL', KEYS[2])
  end
end
return results
"""


class Coalescer:
    """One kind of coalesced announcement (`name` keeps its Redis keys apart)."""

    def __init__(self, name: str, window: Callable[[], float], send: Callable[[str, list[dict]], None]):
        self.name, self.window, self.send = name, window, send

    def _keys(self, room: str) -> list[str]:
        prefix = f"{settings.CACHES['default']['KEY_PREFIX']}:coalesce:{self.name}"
        return [f"{prefix}:window:{room}", f"{prefix}:pending:{room}"]

    @staticmethod
    def _lifetime_ms(window: float) -> int:
        # Long enough that the owner's timer fires first; short enough to recover from a
        # dead owner quickly.
        return max(1, int(window * 3000))

    def offer(self, room: str, key: str, payload: dict, *, open_window: bool) -> str:
        """SINGLE: the caller sends the change itself, now. BATCHED: it was sent as a
        batch now, or waits for the window's owner. Call after commit."""
        return self.offer_many(room, [(key, payload, open_window)], send_singles=lambda indexes: None)[0]

    def offer_many(
        self, room: str, offers: list[tuple[str, dict, bool]], *, send_singles: Callable[[list[int]], None]
    ) -> list[str]:
        """`offer` for several changes of `room`, `[(key, payload, open_window)]` in order,
        in one Redis call (a batch of joins offers its changes together). Returns the mode
        of each. The indexes of the SINGLE ones go to `send_singles`, which sends them
        itself, before any batch this call opened goes out (they all came before it).
        Call after commit."""
        window = self.window()
        modes = [SINGLE] * len(offers)
        opened = token = None
        if window > 0 and offers:
            token = secrets.token_hex(8)
            args: list = [token, self._lifetime_ms(window)]
            for key, payload, open_window in offers:
                args += [key, dumps(payload), "1" if open_window else "0"]
            try:
                results = sync_redis().register_script(_OFFER_MANY)(keys=self._keys(room), args=args)
            except Exception:
                log.exception("coalesced %s to %s failed; sending directly", self.name, room)
                results = [SINGLE] * len(offers)
            for index, result in enumerate(results):
                if isinstance(result, list):
                    opened, modes[index] = result, BATCHED
                elif result not in (SINGLE, SINGLE.encode()):
                    modes[index] = BATCHED
        singles = [index for index, mode in enumerate(modes) if mode == SINGLE]
        if singles:
            send_singles(singles)
        if opened is not None:
            self._send(room, opened)
            self._schedule_drain(room, token, window)
        return modes

    def _send(self, room: str, raw: list) -> None:
        try:
            self.send(room, [loads(item) for item in raw])
        except Exception:
            # What was committed stays committed; a lost frame must not break the caller.
            log.exception("coalesced %s to %s failed", self.name, room)

    def _schedule_drain(self, room: str, token: str, window: float) -> None:
        timer = threading.Timer(window, self._drain, args=(room, token, window))
        timer.daemon = True
        timer.start()

    def _drain(self, room: str, token: str, window: float) -> None:
        try:
            waiting = sync_redis().register_script(_DRAIN)(
                keys=self._keys(room), args=[token, self._lifetime_ms(window)]
            )
        except Exception:
            # The window lapses on its own; the next change sends what waited.
            log.exception("coalesced %s drain of %s failed", self.name, room)
            return
        if not waiting:
            return
        self._send(room, waiting)
        self._schedule_drain(room, token, window)
