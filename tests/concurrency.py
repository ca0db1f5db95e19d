"""Runs calls at the same instant on real threads, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(calls: list[Callable[[], object]], *, timeout: float = 60) -> list:
    """Starts every call on its own thread behind a barrier; returns each result or the
    exception it raised, in order. Each thread closes its connection when done."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def runner(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
