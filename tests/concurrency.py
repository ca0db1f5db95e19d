"""Runs calls at the same instant on real threads, each with its own database connection."""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def _one_fan_out_per_run() -> Iterator[None]:
    """Holds a lock shared by the pytest-xdist workers of this run: PostgreSQL allows 100
    connections by default, and two workers each starting 50 threads at once would pass it."""
    run = os.environ.get("TEST_DATABASE_NAME", "default").replace(os.sep, "_")
    path = os.path.join(tempfile.gettempdir(), f"collab-run-at-once-{run}.lock")
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_at_once(calls: list[Callable[[], object]], *, timeout: float = 120) -> list:
    """Starts every call on its own thread behind a barrier; returns each result or the
    exception it raised, in order (a test asserts which outcome each call must have).

    Fails the test when a thread is still running after `timeout` seconds (a hung call
    would otherwise pass unseen) or when the barrier itself broke. Each thread closes its
    database connection when done."""
    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    finished = [False] * len(calls)

    def runner(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=120)
        except BaseException as exc:
            # A thread that fails before the barrier releases the others at once.
            barrier.abort()
            results[index] = exc
            connection.close()
            finished[index] = True
            return
        try:
            results[index] = call()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()
            finished[index] = True

    threads = [threading.Thread(target=runner, args=(i, c), name=f"run_at_once-{i}") for i, c in enumerate(calls)]
    with _one_fan_out_per_run():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout)
    hung = [thread.name for thread in threads if thread.is_alive()]
    assert not hung, f"threads still running after {timeout} s: {hung}"
    assert all(finished), "a thread ended without finishing its call"
    broken = [result for result in results if isinstance(result, threading.BrokenBarrierError)]
    causes = [repr(result) for result in results if isinstance(result, BaseException) and result not in broken]
    assert not broken, f"{len(broken)} of {len(calls)} threads never started together; first failures: {causes[:3]}"
    return results


def waiting_on_a_lock() -> bool:
    """Whether a session of this test database waits for a row or table lock now
    (PostgreSQL's pg_stat_activity): how a test knows a thread reached the lock it is
    meant to meet."""
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
