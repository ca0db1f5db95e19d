"""Django's SQLite backend with `before_commit` hooks (collab.core.db)."""

from django.db.backends.sqlite3 import base

from collab.core.db import BeforeCommitMixin


class DatabaseWrapper(BeforeCommitMixin, base.DatabaseWrapper):
    pass
