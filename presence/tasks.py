"""Celery wrappers for presence (beat runs presence_sweep every PRESENCE_SWEEP_INTERVAL)."""

from __future__ import annotations

from celery import shared_task

from presence import sweep


@shared_task(name="presence.tasks.presence_sweep", ignore_result=True)
def presence_sweep() -> int:
    """Users whose leases all lapsed become offline, announced once (idempotent)."""
    return sweep.presence_sweep()
