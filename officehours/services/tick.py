"""The periodic tick (Celery beat, every OFFICE_HOURS_TICK_SECONDS): opens and closes
queues at slot boundaries and ends the waiting list of queues whose office hours ended.
Idempotent: it acts only where the computed state differs from the stored one."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from officehours.models import EntryStatus, OfficeHours, OfficeHoursQueue, OfficeHoursQueueState
from officehours.services.state import QueueChange

log = logging.getLogger(__name__)


def _candidates() -> set[uuid.UUID]:
    """Instructors whose queue might need a change: any active slot, open or hand-opened
    state, or someone still waiting."""
    ids: set[uuid.UUID] = set(OfficeHours.objects.filter(is_active=True).values_list("instructor_id", flat=True))
    ids |= set(OfficeHoursQueueState.objects.filter(is_open=True).values_list("instructor_id", flat=True))
    ids |= set(OfficeHoursQueueState.objects.filter(manually_opened=True).values_list("instructor_id", flat=True))
    ids |= set(
        OfficeHoursQueue.objects.filter(status=EntryStatus.WAITING).values_list("instructor_id", flat=True).distinct()
    )
    return ids


def queue_state_sync(*, instructor_id: uuid.UUID, now: datetime | None = None) -> bool:
    """One instructor in its own transaction; returns whether anything changed."""
    with transaction.atomic(), QueueChange(instructor_id, now=now) as change:
        change.sync_open()
        return change.dirty


def office_hours_tick(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    changed = 0
    failed = 0
    for instructor_id in sorted(_candidates()):
        try:
            changed += queue_state_sync(instructor_id=instructor_id, now=now)
        except Exception:
            # One broken queue must not keep the others from opening or closing.
            failed += 1
            log.exception("office-hours tick failed for instructor %s", instructor_id)
    return {"changed": changed, "failed": failed}
