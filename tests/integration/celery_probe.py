"""The Celery app of tests/integration/test_e2e_celery.py's kill tests: collab's own app
(so its configuration: late acks, requeue when the worker is lost, the broker's
visibility timeout) with one task more, which records each run and then waits to be
killed (or released)."""

from __future__ import annotations

import os
import time

import redis

from collab.celery import app

__all__ = ["app", "hold"]


@app.task(name="tests.integration.celery_probe.hold", ignore_result=True)
def hold(key: str) -> None:
    """Appends this process's pid to `<key>:runs`, waits for `<key>:release` (at most two
    minutes), then appends it to `<key>:done`."""
    client = redis.Redis.from_url(app.conf.broker_url)
    client.rpush(f"{key}:runs", os.getpid())
    deadline = time.monotonic() + 120
    while not client.exists(f"{key}:release") and time.monotonic() < deadline:
        time.sleep(0.1)
    client.rpush(f"{key}:done", os.getpid())
