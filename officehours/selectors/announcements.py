"""Office-hours reads of the queue's announcements."""

from __future__ import annotations

import uuid

from collab.accounts.models import User
from collab.core.errors import NotAllowed, NotFound
from officehours.models import QueueAnnouncement
from officehours.permissions import OfficeHoursPermission
from officehours.selectors.schedule import instructor_get

# The student's queue view carries this many of the latest announcements.
ANNOUNCEMENTS_SHOWN = 5


def announcements_latest(*, instructor_id: uuid.UUID, limit: int = ANNOUNCEMENTS_SHOWN) -> list[QueueAnnouncement]:
    return list(
        QueueAnnouncement.objects.filter(instructor_id=instructor_id)
        .select_related("author")
        .order_by("-created_at", "-id")[:limit]
    )


def announcement_get(*, announcement_id: uuid.UUID) -> QueueAnnouncement:
    found = QueueAnnouncement.objects.filter(id=announcement_id).first()
    if found is None:
        raise NotFound("No announcement with this id.", code="announcement_not_found")
    return found


def announcements_for(*, viewer: User, instructor_id: uuid.UUID, limit: int = 20) -> list[QueueAnnouncement]:
    """The latest announcements of a queue, for its staff and eligible students (403)."""
    instructor = instructor_get(instructor_id=instructor_id)
    if not OfficeHoursPermission.can_subscribe(viewer, instructor.id):
        raise NotAllowed("Only the queue's staff and students can read its announcements.", code="not_eligible")
    return announcements_latest(instructor_id=instructor.id, limit=limit)
