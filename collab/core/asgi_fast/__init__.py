"""Where collab reaches past the frameworks' public surface for speed, fenced in one place.

Each module replaces one piece of Django or Channels on the hot path; each was measured
(docs/performance.md, change numbers below) and each can be turned off alone with the
`ASGI_FAST` setting (environment variable, comma-separated pieces; `none` for all off),
which falls back to the stock behaviour:

| piece           | module            | replaces                                                        |
|-----------------|-------------------|-----------------------------------------------------------------|
| `middleware`    | middleware.py     | MiddlewareMixin's thread hop per hook per request under ASGI (7) |
| `cache`         | cache.py          | Django's Redis cache client's connection pool per cache object (6b) |
| `consumer_loop` | consumer_loop.py  | Channels' AsyncConsumer message loop and per-message DB hop (5, 13) |
| `group_delivery`| consumer_loop.py  | the queue, wake-up and decode per group member (F1; + realtime/layer.py) |
| `frame_write`   | frame_write.py    | uvicorn's ASGI send per recipient of a room frame (F4; with group_delivery) |
| `socket_db`     | socket_db.py      | Channels' single database thread, for the sockets' joins and sends (14) |
| `async_front`   | async_front.py    | a DRF view's thread for a request a ready answer can serve (9)  |
| `front`         | front.py          | Django's ASGI handler for a request a ready answer can serve (R4) |

tests/core/test_asgi_fast.py holds, per piece, a check that fails loudly when the
framework internal it relies on changes (a fingerprint of the replaced code, and the
attributes used), so an upgrade cannot break one of them silently. docs/architecture.md
("Faster than stock") is the page for people.
"""

from __future__ import annotations

from django.conf import settings

PIECES = ("middleware", "cache", "consumer_loop", "group_delivery", "frame_write", "socket_db", "async_front", "front")


def enabled(piece: str) -> bool:
    """Whether `piece` (one of PIECES) is on in settings.ASGI_FAST. ValueError for a name
    that is not a piece (a typo must not silently turn a piece off)."""
    if piece not in PIECES:
        raise ValueError(f"unknown asgi_fast piece {piece!r}")
    return piece in settings.ASGI_FAST
