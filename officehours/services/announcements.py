"""Queue announcements: staff tell everyone following a queue (office-hours-<id>) at once,
e.g. "running 10 minutes late" or "we are moving to room B-12"."""

from __future__ import annotations

import uuid

from django.db import transaction

from collab.accounts.models import User
from collab.core.errors import NotAllowed, NotFound
from collab.core.text import clean_text
from collab.realtime.broadcast import broadcast_on_commit
from officehours import events, selectors
from officehours.models import QueueAnnouncement
from officehours.permissions import OfficeHoursPermission

MESSAGE_MAX = 500


def _require_staff(actor: User, instructor_id: uuid.UUID) -> None:
    if not OfficeHoursPermission.can_serve(actor, instructor_id):
        raise NotAllowed("Only the queue's staff can post or delete announcements.", code="not_queue_instructor")


@transaction.atomic
def announcement_create(*, actor: User, instructor_id: uuid.UUID, message: str) -> QueueAnnouncement:
    """Stores the announcement and sends `office-hours-announcement` to the queue room on
    commit. `message`: the text rule (collab.core.text), 1..500 characters (400
    invalid). Staff of the queue only (403)."""
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    _require_staff(actor, instructor.id)
    message = clean_text(message, field="message", max_length=MESSAGE_MAX)
    announcement = QueueAnnouncement.objects.create(instructor_id=instructor.id, author=actor, message=message)
    broadcast_on_commit(
        events.office_hours_room(instructor.id), events.ANNOUNCEMENT, events.announcement_payload(announcement)
    )
    return announcement


@transaction.atomic
def announcement_delete(*, actor: User, announcement_id: uuid.UUID) -> None:
    """Deletes an announcement (any staff member of its queue) and tells the room.
    Unknown, or not staff of its queue: 404 (a queue's announcements are not listed to
    outsiders); a student of the queue: 403."""
    announcement = selectors.announcement_get(announcement_id=announcement_id)
    if not OfficeHoursPermission.can_serve(actor, announcement.instructor_id):
        if OfficeHoursPermission.can_queue(actor, announcement.instructor_id):
            raise NotAllowed("Only the queue's staff can delete announcements.", code="not_queue_instructor")
        raise NotFound("No announcement with this id.", code="announcement_not_found")
    deleted, _ = QueueAnnouncement.objects.filter(id=announcement.id).delete()
    if deleted:
        broadcast_on_commit(
            events.office_hours_room(announcement.instructor_id),
            events.ANNOUNCEMENT_DELETED,
            events.announcement_deleted_payload(
                instructor_id=announcement.instructor_id, announcement_id=announcement.id
            ),
        )
