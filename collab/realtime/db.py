"""Database work from sockets.

Channels' `database_sync_to_async` is thread-sensitive: every socket's database work in a
process runs on one shared thread, one call at a time. Under load that thread is the
bottleneck: at 100 chat messages a second (20 live sessions) each message's access check
and insert waited behind all the others' round trips to PostgreSQL (bench/ profile: 42 %
of the server's samples in that one thread, latency growing without bound). The chat
sends (session and group messages), the handshake's reads (the user, the course rooms)
and the live-session join share no thread-bound state, so they go to a thread pool
instead (the join's order against other joins and leaves of its session is the session
row lock's, not the thread's), as many at once as the pool has threads; each call still runs its
service's transaction whole, closes old connections before and after (Channels'
DatabaseSyncToAsync), and a socket still handles one frame at a time. Connect and
disconnect hooks keep Channels' single thread: their order relative to each other is
what presence and attendance were built and tested on.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from channels.db import DatabaseSyncToAsync
from django.conf import settings


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.SOCKET_DB_THREADS, thread_name_prefix="socket-db")


def socket_db(func: Callable) -> DatabaseSyncToAsync:
    """`await socket_db(service)(**kwargs)`: the call on the socket database pool."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())
