"""Celery wrappers for the outbox (beat runs outbox_prune every OUTBOX_PRUNE_INTERVAL)."""

from __future__ import annotations

from celery import shared_task

from collab.realtime import outbox


@shared_task(name="collab.realtime.tasks.outbox_prune", ignore_result=True)
def outbox_prune() -> int:
    """Drops frames retention no longer needs. Idempotent; two overlapping runs are harmless."""
    return outbox.outbox_prune()
