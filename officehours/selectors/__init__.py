"""Office-hours reads, by concern (see each module's docstring): the schedule and whether
a queue is open (`schedule`), the queue's views and entries (`queue`), announcements
(`announcements`) and insight for staff (`insight`)."""

from officehours.selectors.announcements import (
    ANNOUNCEMENTS_SHOWN,
    announcement_get,
    announcements_for,
    announcements_latest,
)
from officehours.selectors.insight import queue_stats_get
from officehours.selectors.queue import (
    DEFAULT_SERVICE_MINUTES,
    SERVICE_SAMPLE,
    WaitingSpot,
    entry_get_for_action,
    estimate_minutes,
    mean_service_minutes,
    queue_get,
    queue_view_instructor,
    queue_view_student,
    queue_views_for_tas,
    waiting_spots,
)
from officehours.selectors.schedule import (
    instructor_get,
    queue_day_bounds,
    queue_is_open,
    queue_timezone,
    schedule_get,
    slot_get,
    slots_for_instructor,
)

__all__ = [
    "ANNOUNCEMENTS_SHOWN",
    "DEFAULT_SERVICE_MINUTES",
    "SERVICE_SAMPLE",
    "WaitingSpot",
    "announcement_get",
    "announcements_for",
    "announcements_latest",
    "entry_get_for_action",
    "estimate_minutes",
    "instructor_get",
    "mean_service_minutes",
    "queue_day_bounds",
    "queue_get",
    "queue_is_open",
    "queue_stats_get",
    "queue_timezone",
    "queue_view_instructor",
    "queue_view_student",
    "queue_views_for_tas",
    "schedule_get",
    "slot_get",
    "slots_for_instructor",
    "waiting_spots",
]
