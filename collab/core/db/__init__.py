"""`before_commit`: work done inside a transaction, at its very end, just before COMMIT.

Django has `transaction.on_commit` (after COMMIT) but nothing just before it. The outbox
(collab.realtime.outbox) needs that moment: a transaction that broadcasts to several rooms
takes each room's seq-counter row lock, and taking them as the broadcasts happen (in the
order the code path makes them) lets two transactions take two rooms in opposite orders
and deadlock. Done before COMMIT instead, every transaction takes them in one order
(sorted room names), and holds them only for the commit itself.

    before_commit(func)   # inside transaction.atomic(): func() runs before the COMMIT

Like `on_commit`: a hook registered inside a savepoint that is rolled back is dropped; a
rolled-back transaction runs none; hooks run in the order registered, and a hook that
registers another makes it run after the current ones. A hook that raises rolls the
whole transaction back and the error reaches the caller of the `atomic` block.

The hook needs our database backends, Django's own with this added (settings.py sets
ENGINE to `collab.core.db.postgresql` or `collab.core.db.sqlite3`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, Error, transaction


def before_commit(func: Callable[[], None], using: str | None = None) -> None:
    """Runs `func()` in the current transaction right before it commits (see above).
    Raises TransactionManagementError outside `transaction.atomic()`."""
    connection = transaction.get_connection(using)
    if not (connection.in_atomic_block or getattr(connection, "in_before_commit", False)):
        raise transaction.TransactionManagementError("before_commit() needs a transaction.atomic() block")
    hooks = getattr(connection, "run_before_commit", None)
    if hooks is None:
        raise ImproperlyConfigured(
            f"database {connection.alias!r} has no before-commit hook: use ENGINE collab.core.db.postgresql or "
            "collab.core.db.sqlite3"
        )
    hooks.append((set(connection.savepoint_ids), func))


class BeforeCommitMixin:
    """Adds `before_commit` hooks to a Django DatabaseWrapper (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.run_before_commit: list[tuple[set[str], Callable[[], None]]] = []
        self.in_before_commit = False
        # Scratch space for the hooks of one commit (e.g. what a later hook collects);
        # emptied when the hooks are done, whether they succeeded or not.
        self.before_commit_state: dict = {}

    def run_before_commit_hooks(self) -> None:
        """Runs (and clears) the pending hooks; also for tests that run the on-commit
        callbacks of a transaction that never commits (captureOnCommitCallbacks)."""
        self.in_before_commit = True
        try:
            while self.run_before_commit:
                hooks, self.run_before_commit = self.run_before_commit, []
                for _, func in hooks:
                    func()
        finally:
            self.in_before_commit = False
            self.before_commit_state.clear()

    def commit(self) -> None:
        # Atomic.__exit__ calls this for the outermost block, the transaction still open.
        try:
            self.run_before_commit_hooks()
        except DatabaseError:
            self.run_before_commit = []
            raise  # Atomic rolls back on a DatabaseError itself
        except Exception:
            # Anything else Atomic would not roll back: undo the transaction here.
            self.run_before_commit = []
            try:
                self.rollback()
            except Error:
                self.close()  # as Atomic does when a rollback fails: the connection is unusable
            raise
        super().commit()

    def rollback(self) -> None:
        self.run_before_commit = []
        super().rollback()

    def savepoint_rollback(self, sid) -> None:
        super().savepoint_rollback(sid)
        self.run_before_commit = [(sids, func) for (sids, func) in self.run_before_commit if sid not in sids]

    def close(self) -> None:
        self.run_before_commit = []
        super().close()
