"""Office-hours writes (see each module's docstring)."""

from officehours.services.announcements import announcement_create, announcement_delete
from officehours.services.queue import (
    queue_admit,
    queue_clear,
    queue_entry_complete,
    queue_entry_end_for_unenrolled,
    queue_entry_remove,
    queue_entry_requeue,
    queue_join,
    queue_leave,
    queue_refuse_staff_in_queue,
)
from officehours.services.slots import (
    office_hours_create,
    office_hours_delete,
    office_hours_update,
    queue_close,
    queue_open,
    queue_rules_update,
)
from officehours.services.tick import office_hours_tick, queue_state_sync

__all__ = [
    "announcement_create",
    "announcement_delete",
    "office_hours_create",
    "office_hours_delete",
    "office_hours_tick",
    "office_hours_update",
    "queue_admit",
    "queue_clear",
    "queue_close",
    "queue_entry_complete",
    "queue_entry_end_for_unenrolled",
    "queue_entry_remove",
    "queue_entry_requeue",
    "queue_join",
    "queue_leave",
    "queue_open",
    "queue_refuse_staff_in_queue",
    "queue_rules_update",
    "queue_state_sync",
]
