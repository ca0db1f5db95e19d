"""The machinery every queue change runs under: the instructor's lock, keeping the
open/closed state in step with the clock, and publishing what changed.

`QueueChange` is used as a context manager inside a service's transaction:

    with QueueChange(instructor_id) as change:   # locks the state row, snapshots positions
        ...write...
        change.touch()                            # something changed: publish on exit
    # on a clean exit: queue-updated to the instructor, position-changed / up-next to the
    # students whose own position or estimate changed, queue-length to the room.

Broadcasts go out after commit (broadcast_on_commit); an exception publishes nothing
and the transaction rolls back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.utils import timezone

from collab.courses.models import Course
from collab.realtime.broadcast import broadcast_on_commit
from collab.realtime.rooms import course_room, user_room
from officehours import events, selectors
from officehours.models import EntryStatus, OfficeHours, OfficeHoursQueue, OfficeHoursQueueState
from officehours.schedule import Occurrence, current_occurrences, scheduled_open


def lock_state(instructor_id: uuid.UUID) -> OfficeHoursQueueState:
    """The instructor's state row, locked until the transaction ends (created if missing;
    ON CONFLICT DO NOTHING keeps two first-ever joins from failing)."""
    locked = OfficeHoursQueueState.objects.select_for_update().filter(instructor_id=instructor_id).first()
    if locked is None:
        OfficeHoursQueueState.objects.bulk_create(
            [OfficeHoursQueueState(instructor_id=instructor_id)], ignore_conflicts=True
        )
        locked = OfficeHoursQueueState.objects.select_for_update().get(instructor_id=instructor_id)
    return locked


def course_rooms_of(instructor_id: uuid.UUID) -> list[str]:
    return [course_room(cid) for cid in Course.objects.filter(instructor_id=instructor_id).values_list("id", flat=True)]


class QueueChange:
    def __init__(self, instructor_id: uuid.UUID, *, now: datetime | None = None):
        self.instructor_id = instructor_id
        self.now = now or timezone.now()
        self.dirty = False
        self.occurrences: list[Occurrence] = []

    def __enter__(self) -> QueueChange:
        self.state = lock_state(self.instructor_id)
        self.before = selectors.waiting_spots(instructor_id=self.instructor_id)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self.dirty:
            self._publish()

    def touch(self) -> None:
        self.dirty = True

    # -- open / closed ---------------------------------------------------------------

    def sync_open(self) -> bool:
        """Brings the state in line with the clock and the hand-set flags; announces a
        change; removes waiting entries once the queue is closed and no slot is in progress
        (the office hours ended). Idempotent. Returns whether the queue is open."""
        slots = list(OfficeHours.objects.filter(instructor_id=self.instructor_id, is_active=True))
        self.occurrences = current_occurrences(slots, self.now)
        state = self.state
        desired = state.manually_opened or scheduled_open(self.occurrences, state.manually_closed_at)
        if desired != state.is_open:
            state.is_open = desired
            state.changed_at = self.now
            state.save(update_fields=["is_open", "changed_at"])
            event = events.OPENED if desired else events.CLOSED
            payload = events.open_state_payload(
                instructor_id=self.instructor_id, is_open=desired, manually=state.manually_opened, at=self.now
            )
            for room in [events.office_hours_room(self.instructor_id), *course_rooms_of(self.instructor_id)]:
                broadcast_on_commit(room, event, payload)
            self.touch()
        if not desired and not self.occurrences:
            self.remove_waiting(reason=events.REASON_ENDED)
        return desired

    def current_slot(self, *, staff_id: uuid.UUID | None = None) -> OfficeHours | None:
        """Where a student meets `staff_id` (who admitted them): their slot in progress,
        else their most recently changed active slot in this schedule; failing that (or
        with no staff_id) the slot in progress, else the schedule's most recently changed
        active slot (a queue opened by hand outside office hours still has a place)."""
        active = OfficeHours.objects.filter(instructor_id=self.instructor_id, is_active=True).order_by("-updated_at")
        if staff_id is not None:
            held = self.instructor_id == staff_id
            for occurrence in self.occurrences:
                if occurrence.slot.staff_id == staff_id or (held and occurrence.slot.staff_id is None):
                    return occurrence.slot
            own = active.filter(staff_id=staff_id).first()
            if own is not None:
                return own
        if self.occurrences:
            return self.occurrences[0].slot
        return active.first()

    # -- writes shared by several services ------------------------------------------

    def remove_waiting(self, *, reason: str) -> int:
        waiting = list(
            OfficeHoursQueue.objects.filter(instructor_id=self.instructor_id, status=EntryStatus.WAITING).values_list(
                "id", "student_id"
            )
        )
        if not waiting:
            return 0
        OfficeHoursQueue.objects.filter(id__in=[entry_id for entry_id, _ in waiting]).update(
            status=EntryStatus.REMOVED, removed_reason=reason, ended_at=self.now
        )
        for entry_id, student_id in waiting:
            self.tell_student(
                student_id,
                events.REMOVED,
                events.removed_payload(instructor_id=self.instructor_id, entry_id=entry_id, reason=reason),
            )
        self.touch()
        return len(waiting)

    def tell_student(self, student_id: uuid.UUID, event: str, data: dict) -> None:
        broadcast_on_commit(user_room(student_id), event, data)

    def tell_instructor(self, event: str, data: dict) -> None:
        broadcast_on_commit(user_room(self.instructor_id), event, data)

    # -- publishing -----------------------------------------------------------------

    def _publish(self) -> None:
        view = selectors.queue_view_instructor(instructor_id=self.instructor_id)
        self.tell_instructor(events.QUEUE_UPDATED, events.instructor_queue_payload(view))
        # Each TA gets the same view cut down to their courses' students: one payload per
        # distinct set of courses, two queries whatever the number of TAs.
        for ta_ids, ta_view in selectors.queue_views_for_tas(instructor_id=self.instructor_id, view=view):
            payload = events.instructor_queue_payload(ta_view)
            for ta_id in ta_ids:
                broadcast_on_commit(user_room(ta_id), events.QUEUE_UPDATED, payload)

        # Only students whose own position or estimate changed hear about it.
        after = {
            row["id"]: selectors.WaitingSpot(
                row["id"], row["student"]["id"], row["position"], row["estimated_wait_minutes"]
            )
            for row in view["entries"]
            if row["position"] is not None
        }
        for entry_id, spot in after.items():
            previous = self.before.get(entry_id)
            if previous is not None and (previous.position, previous.estimate) == (spot.position, spot.estimate):
                continue
            self.tell_student(
                spot.student_id,
                events.POSITION_CHANGED,
                events.position_payload(
                    instructor_id=self.instructor_id, entry_id=entry_id, position=spot.position, estimate=spot.estimate
                ),
            )
            if spot.position == 1 and (previous is None or previous.position != 1):
                self.tell_student(
                    spot.student_id,
                    events.UP_NEXT,
                    events.position_payload(
                        instructor_id=self.instructor_id, entry_id=entry_id, position=1, estimate=spot.estimate
                    ),
                )
        if len(after) != len(self.before):
            broadcast_on_commit(
                events.office_hours_room(self.instructor_id),
                events.QUEUE_LENGTH,
                events.queue_length_payload(instructor_id=self.instructor_id, length=len(after)),
            )
