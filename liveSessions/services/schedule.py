"""Beat's periodic work: reminders before the start, auto-end after the grace.

Both run every 30 s and may overlap or run twice; each notice is claimed by a
conditional UPDATE (`... WHERE reminder_sent_at IS NULL`), so it goes out exactly once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from collab.core.errors import Conflict
from collab.realtime.broadcast import broadcast_on_commit
from collab.realtime.rooms import course_room, user_room
from liveSessions import events
from liveSessions.models import LiveSession, SessionStatus
from liveSessions.services.lifecycle import live_session_end

log = logging.getLogger(__name__)

ENDING_SOON_MINUTES = 5
BATCH = 500


def live_session_send_reminders() -> int:
    """`live-session-starting-soon` to the course room (an open session: to its
    instructor) once a session is within LIVE_SESSION_REMINDER_MINUTES of its start.
    A session whose start passed unseen by more than that window gets none."""
    now = timezone.now()
    window = timedelta(minutes=settings.LIVE_SESSION_REMINDER_MINUTES)
    due = LiveSession.objects.filter(
        status=SessionStatus.SCHEDULED,
        reminder_sent_at__isnull=True,
        scheduled_at__lte=now + window,
        scheduled_at__gt=now - window,
    ).values_list("id", flat=True)[:BATCH]
    sent = 0
    for session_id in list(due):
        with transaction.atomic():
            claimed = LiveSession.objects.filter(
                id=session_id, status=SessionStatus.SCHEDULED, reminder_sent_at__isnull=True
            ).update(reminder_sent_at=now)
            if not claimed:
                continue
            session = LiveSession.objects.get(id=session_id)
            minutes = max(0, round((session.scheduled_at - now).total_seconds() / 60))
            room = course_room(session.course_id) if session.course_id else user_room(session.instructor_id)
            broadcast_on_commit(
                room, events.SESSION_STARTING_SOON, events.starting_soon_payload(session, minutes=minutes)
            )
            sent += 1
    return sent


def live_session_auto_end_overdue() -> dict:
    """Sessions still live LIVE_SESSION_AUTO_END_GRACE minutes past their planned end
    are ended by the same service as a manual end; `session-ending-soon` goes to the
    session and course rooms ENDING_SOON_MINUTES before that."""
    now = timezone.now()
    grace = timedelta(minutes=settings.LIVE_SESSION_AUTO_END_GRACE)
    warn = timedelta(minutes=ENDING_SOON_MINUTES)

    warned = 0
    to_warn = LiveSession.objects.filter(
        status=SessionStatus.LIVE,
        ending_soon_sent_at__isnull=True,
        planned_end_at__lte=now + warn - grace,
        planned_end_at__gt=now - grace,
    ).values_list("id", flat=True)[:BATCH]
    for session_id in list(to_warn):
        with transaction.atomic():
            claimed = LiveSession.objects.filter(
                id=session_id, status=SessionStatus.LIVE, ending_soon_sent_at__isnull=True
            ).update(ending_soon_sent_at=now)
            if not claimed:
                continue
            session = LiveSession.objects.get(id=session_id)
            ends_at = session.planned_end_at + grace
            minutes = max(0, round((ends_at - now).total_seconds() / 60))
            payload = events.ending_soon_payload(session, ends_at=ends_at, minutes=minutes)
            rooms = [course_room(session.course_id)] if session.course_id else []
            for room in [*rooms, events.session_room(session.id)]:
                broadcast_on_commit(room, events.SESSION_ENDING_SOON, payload)
            warned += 1

    ended = 0
    overdue = LiveSession.objects.filter(status=SessionStatus.LIVE, planned_end_at__lte=now - grace).values_list(
        "id", flat=True
    )[:BATCH]
    for session_id in list(overdue):
        try:
            live_session_end(actor=None, session_id=session_id)
            ended += 1
        except Conflict:
            # Ended by hand (or by another run) between the read and the lock.
            log.info("live session %s was already ended", session_id)
    return {"warned": warned, "ended": ended}
