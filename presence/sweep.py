"""The presence sweep (beat, every PRESENCE_SWEEP_INTERVAL): users whose leases all lapsed
are announced offline, through the same reconciliation as a socket's last lease
(presence.services)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime

from collab.realtime import leases
from collab.realtime.signals import leases_swept
from presence import services
from presence.models import Status, UserPresence

log = logging.getLogger(__name__)


def presence_sweep(*, now: float | None = None, batch: int = 1000) -> int:
    """Announces offline every user whose leases all lapsed (a crashed process, a
    client gone silent). Idempotent, and safe to run twice at once: Redis hands each
    lapsed user to one sweep, and the row lock + announced_status stop a repeat.

    Also reconciles rows still announced as visible whose leases are gone for any other
    reason (Redis restarted, a sweep killed midway). They are reconciled SYNC_CHUNK at a
    time (presence_sync_many: one transaction each, the same outcome as one sync each; a
    chunk that fails is retried one user at a time). Then sends `leases_swept`
    (collab.realtime.signals: e.g. live sessions free the seats of users whose sockets
    died with their process). Returns how many users were announced offline."""
    now = time.time() if now is None else now
    if not leases.leases_settled():
        # Redis (re)started moments ago: leases of connected users may not be re-taken yet,
        # and acting on their absence would show them offline and free their seats.
        log.warning("presence sweep skipped: Redis restarted recently, leases are being re-asserted")
        return 0
    lapsed: dict[str, float] = {}
    while True:
        taken = leases.leases_sweep(now=now, batch=batch)
        lapsed.update(taken)
        if len(taken) < batch:
            break
    shown_live = UserPresence.objects.exclude(announced_status=Status.OFFLINE).values_list("user_id", flat=True)
    announced = [str(user_id) for user_id in shown_live]
    live = leases.live_expiries(announced, now=now)
    candidates = sorted(set(lapsed) | {uid for uid in announced if uid not in live})
    ttl = leases.lease_ttl()
    # The last renewal is the lease's expiry minus its lifetime.
    seen_at = {user_id: services.epoch_to_datetime(expiry - ttl) for user_id, expiry in lapsed.items()}
    offline = 0
    for start in range(0, len(candidates), services.SYNC_CHUNK):
        chunk = candidates[start : start + services.SYNC_CHUNK]
        chunk_seen_at = {user_id: seen_at[user_id] for user_id in chunk if user_id in seen_at}
        try:
            offline += sum(services.presence_sync_many(user_ids=chunk, seen_at=chunk_seen_at))
        except Exception:
            log.exception("presence sweep could not reconcile %d users at once; one by one", len(chunk))
            offline += _sync_one_by_one(chunk, chunk_seen_at)
    # Other apps release what their users held while connected.
    for receiver, result in leases_swept.send_robust(sender=None):
        if isinstance(result, Exception):
            log.error("leases_swept receiver %r failed", receiver, exc_info=result)
    return offline


def _sync_one_by_one(user_ids: list[str], seen_at: Mapping[str, datetime]) -> int:
    """The sweep's fallback for a batch that failed: one user's failure must not keep the
    others online (the row, if any, is still announced as visible: the next sweep retries
    it). Returns how many were announced."""
    announced = 0
    for user_id in user_ids:
        try:
            announced += services.presence_sync(user_id=user_id, seen_at=seen_at.get(user_id))
        except Exception:
            log.exception("presence sweep could not reconcile user %s", user_id)
    return announced
