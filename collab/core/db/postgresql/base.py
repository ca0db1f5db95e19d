"""Django's PostgreSQL backend with `before_commit` hooks (collab.core.db), and a pool
health check that skips connections used moments ago."""

from __future__ import annotations

import time
import weakref

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base

from collab.core.db import BeforeCommitMixin

# A connection handed back to the pool less than this many seconds ago is handed out
# again without a round trip to check it.
RECENTLY_USED_SECONDS = 2.0

_returned_at: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _note_returned(conn) -> None:
    """psycopg_pool `reset` callback: runs as a connection goes back to the pool."""
    _returned_at[conn] = time.monotonic()


def _check_unless_recently_used(conn) -> None:
    """psycopg_pool `check` callback. Django's (CONN_HEALTH_CHECKS) runs `SELECT 1` on
    every checkout, and the socket threads check a connection out for every database
    call: one round trip more per call, 10 % of a class-start storm's samples
    (docs/performance.md S8). A connection that was working seconds ago is handed out
    as is; one idle for longer (it may have been cut: a PostgreSQL restart) is still
    checked, so a broken one is replaced instead of failing a request."""
    returned = _returned_at.get(conn)
    if returned is not None and time.monotonic() - returned < RECENTLY_USED_SECONDS:
        return
    from psycopg_pool import ConnectionPool

    ConnectionPool.check_connection(conn)


class DatabaseWrapper(BeforeCommitMixin, base.DatabaseWrapper):
    @property
    def pool(self):
        """Django's pool (django.db.backends.postgresql.base.DatabaseWrapper.pool), with
        the check above instead of Django's when CONN_HEALTH_CHECKS is on."""
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            from psycopg_pool import ConnectionPool

            options = {} if pool_options is True else dict(pool_options)
            checks = self.settings_dict["CONN_HEALTH_CHECKS"]
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets it later, as in its own pool
            pool = ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,
                check=_check_unless_recently_used if checks else None,
                reset=_note_returned if checks else None,
                **options,
            )
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
