"""Office-hours insight for the queue's staff: the request's checks and defaults in
front of officehours.stats (which computes the figures)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.utils import timezone

from collab.accounts.models import User
from collab.core.errors import InvalidInput, NotAllowed
from officehours import stats
from officehours.permissions import OfficeHoursPermission
from officehours.schedule import is_valid_timezone, zone
from officehours.selectors.schedule import instructor_get, queue_timezone


def queue_stats_get(
    *, viewer: User, instructor_id: uuid.UUID, start: date | None, end: date | None, tz_name: str | None
) -> dict:
    """officehours.stats.queue_stats for the queue's staff (403 otherwise; a TA: their
    courses' students). `start`/`end`: days (parsed and bounded by
    collab.core.params.date_param), default the 28 days ending today in `tz_name`
    (default: the queue's zone); 400 `invalid` for from > to, over 366 days or an unknown
    zone."""
    instructor = instructor_get(instructor_id=instructor_id)
    if not OfficeHoursPermission.can_serve(viewer, instructor.id):
        raise NotAllowed("Only the queue's staff can see its statistics.", code="not_queue_instructor")
    tz_name = queue_timezone(instructor_id=instructor.id) if tz_name is None else tz_name
    if not is_valid_timezone(tz_name):
        raise InvalidInput.for_fields({"tz": ["Unknown time zone; use an IANA name such as Europe/Berlin."]})
    end_day = end or timezone.now().astimezone(zone(tz_name)).date()
    start_day = start or end_day - timedelta(days=27)
    if start_day > end_day:
        raise InvalidInput.for_fields({"from": ["Must not be after to."]})
    if (end_day - start_day).days >= stats.MAX_RANGE_DAYS:
        raise InvalidInput.for_fields({"from": ["At most 366 days before to."]})
    return stats.queue_stats(
        instructor_id=instructor.id,
        start=start_day,
        end=end_day,
        tz_name=tz_name,
        scope=OfficeHoursPermission.serve_scope(viewer, instructor.id),
    )
