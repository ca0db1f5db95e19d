"""Guard for collab/core/db/ (the before-commit hook of the outbox): it overrides
methods of Django's DatabaseWrapper and relies on `Atomic.__exit__` calling `commit()` on
the connection with the outermost transaction still open. If Django changes any of them,
this fails loudly: re-read the new code beside collab/core/db/__init__.py, port what
changed, then record the new fingerprint."""

from __future__ import annotations

import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoPostgreSQL
from django.db.transaction import Atomic

from collab.core.db import BeforeCommitMixin
from tests.fingerprints import assert_unchanged

FINGERPRINTS = {
    BaseDatabaseWrapper.commit: "54b37694faec878a",
    BaseDatabaseWrapper.rollback: "40eb099b6c9ba834",
    BaseDatabaseWrapper.savepoint_rollback: "64a325396d5e6c96",
    Atomic.__exit__: "6c52b1e68d7d22a5",
    # collab/core/db/postgresql/base.py builds the pool as this does, with its own check.
    DjangoPostgreSQL.pool.fget: "e5c2654fdf2d5090",
}


@pytest.mark.parametrize("replaced", list(FINGERPRINTS), ids=lambda f: f.__qualname__)
def test_the_django_code_the_hook_relies_on_is_unchanged(replaced):
    assert_unchanged(replaced, FINGERPRINTS[replaced], reread="collab/core/db/__init__.py")


def test_the_configured_backend_has_the_hook():
    assert isinstance(connections["default"], BeforeCommitMixin)


@pytest.mark.django_db
@pytest.mark.skipif(connections["default"].vendor != "postgresql", reason="the pool is PostgreSQL's")
def test_the_pool_checks_a_connection_only_after_it_sat_idle(monkeypatch):
    """A connection handed back moments ago is handed out without `SELECT 1` (one round
    trip less per socket database call); one idle for longer is checked, so a connection
    PostgreSQL cut meanwhile is replaced instead of failing a request."""
    import psycopg

    from collab.core.db.postgresql import base

    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**params, autocommit=True)
    base._check_unless_recently_used(conn)  # never returned: checked, and fine
    base._note_returned(conn)
    conn.close()  # now broken, as after a PostgreSQL restart
    base._check_unless_recently_used(conn)  # returned moments ago: not checked
    monkeypatch.setattr(base, "RECENTLY_USED_SECONDS", 0.0)
    with pytest.raises(psycopg.Error):
        base._check_unless_recently_used(conn)  # idle "long enough": checked, found broken


@pytest.mark.django_db
def test_the_pool_is_built_with_that_check():
    pool = getattr(connections["default"], "pool", None)
    if pool is None:
        pytest.skip("no pool (SQLite, or DB_POOL off)")
    from collab.core.db.postgresql import base

    assert pool._check is base._check_unless_recently_used
