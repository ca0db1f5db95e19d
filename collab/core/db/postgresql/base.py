"""Django's PostgreSQL backend with `before_commit` hooks (collab.core.db)."""

from django.db.backends.postgresql import base

from collab.core.db import BeforeCommitMixin


class DatabaseWrapper(BeforeCommitMixin, base.DatabaseWrapper):
    pass
