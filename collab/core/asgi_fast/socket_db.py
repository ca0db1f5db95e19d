"""Database work from sockets, on a thread pool (piece `socket_db`).

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
DatabaseSyncToAsync), and a socket still handles one frame at a time. Presence's
writes came here too (docs/performance.md change S5): each is a reconciler that locks
the user's presence row and reads the leases under the lock, so two of them may run in
either order and the last one still announces the truth; on the single thread a class's
500 first-lease syncs ran one after another and held up every join of the class-start
storm. Attendance's disconnect exit keeps Channels' single thread. With `socket_db` off
(or SOCKET_DB_THREADS=0) these calls take Channels' single thread like everything else.
docs/performance.md change 14: a 20,000 frames/s step went from p50 1,690 ms to 136 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings

from collab.core.asgi_fast import enabled


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.SOCKET_DB_THREADS, thread_name_prefix="socket-db")


def socket_db(func: Callable) -> DatabaseSyncToAsync:
    """`await socket_db(service)(**kwargs)`: the call on the socket database pool."""
    if not enabled("socket_db") or settings.SOCKET_DB_THREADS <= 0:
        return database_sync_to_async(func)
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())
