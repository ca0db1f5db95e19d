"""Office-hours reads: schedules, whether a queue is open, positions, estimated waits
and the two views of a queue (the instructor's full view, a student's own view)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from collab.accounts.models import Role, User
from collab.core.errors import NotAllowed, NotFound
from officehours.models import EntryStatus, OfficeHours, OfficeHoursQueue, OfficeHoursQueueState
from officehours.permissions import OfficeHoursPermission
from officehours.schedule import current_occurrences, scheduled_open

# Estimated wait = position x mean service time of the instructor's last SERVICE_SAMPLE
# completed entries (admittedAt -> completedAt), DEFAULT_SERVICE_MINUTES without history,
# rounded up to whole minutes.
SERVICE_SAMPLE = 10
DEFAULT_SERVICE_MINUTES = 10.0


def instructor_get(*, instructor_id: uuid.UUID | str) -> User:
    instructor = User.objects.filter(id=instructor_id, role=Role.INSTRUCTOR, is_active=True).first()
    if instructor is None:
        raise NotFound("No instructor with this id.", code="instructor_not_found")
    return instructor


def slot_get(*, slot_id: uuid.UUID | str) -> OfficeHours:
    slot = OfficeHours.objects.filter(id=slot_id).first()
    if slot is None:
        raise NotFound("No office hours with this id.", code="office_hours_not_found")
    return slot


def slots_for_instructor(*, instructor_id: uuid.UUID, include_inactive: bool = False) -> QuerySet[OfficeHours]:
    slots = OfficeHours.objects.filter(instructor_id=instructor_id)
    if not include_inactive:
        slots = slots.filter(is_active=True)
    return slots.order_by("day_of_week", "start_time", "id")


def queue_is_open(*, instructor_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Computed from the clock and the hand-set state (not the last announced state)."""
    now = now or timezone.now()
    state = OfficeHoursQueueState.objects.filter(instructor_id=instructor_id).first()
    if state is not None and state.manually_opened:
        return True
    occurrences = current_occurrences(slots_for_instructor(instructor_id=instructor_id), now)
    return scheduled_open(occurrences, state.manually_closed_at if state else None)


def schedule_get(*, viewer: User, instructor_id: uuid.UUID) -> dict:
    instructor = instructor_get(instructor_id=instructor_id)
    include_inactive = OfficeHoursPermission.can_manage(viewer, instructor.id)
    slots = list(slots_for_instructor(instructor_id=instructor.id, include_inactive=include_inactive))
    return {
        "instructor_id": instructor.id,
        "is_open": queue_is_open(instructor_id=instructor.id),
        "slots": slots,
    }


def mean_service_minutes(*, instructor_id: uuid.UUID) -> float:
    recent = (
        OfficeHoursQueue.objects.filter(
            instructor_id=instructor_id,
            status=EntryStatus.COMPLETED,
            completed_at__isnull=False,
            admitted_at__isnull=False,
        )
        .order_by("-completed_at", "-id")
        .values_list("admitted_at", "completed_at")[:SERVICE_SAMPLE]
    )
    durations = [max((done - start).total_seconds(), 0.0) for start, done in recent]
    if not durations:
        return DEFAULT_SERVICE_MINUTES
    return sum(durations) / len(durations) / 60.0


def estimate_minutes(position: int, mean_minutes: float) -> int:
    return math.ceil(round(position * mean_minutes, 6))


@dataclass(frozen=True)
class WaitingSpot:
    entry_id: uuid.UUID
    student_id: uuid.UUID
    position: int
    estimate: int


def waiting_spots(*, instructor_id: uuid.UUID, mean_minutes: float | None = None) -> dict[uuid.UUID, WaitingSpot]:
    """Every waiting entry with its position (1-based rank by joinedQueueAt, ties by id)."""
    if mean_minutes is None:
        mean_minutes = mean_service_minutes(instructor_id=instructor_id)
    rows = (
        OfficeHoursQueue.objects.filter(instructor_id=instructor_id, status=EntryStatus.WAITING)
        .order_by("joined_queue_at", "id")
        .values_list("id", "student_id")
    )
    return {
        entry_id: WaitingSpot(entry_id, student_id, position, estimate_minutes(position, mean_minutes))
        for position, (entry_id, student_id) in enumerate(rows, start=1)
    }


def queue_view_instructor(*, instructor_id: uuid.UUID, limit: int | None = None) -> dict:
    """The full queue: admitted entries first (being served), then waiting in order."""
    now = timezone.now()
    mean = mean_service_minutes(instructor_id=instructor_id)
    entries = list(
        OfficeHoursQueue.objects.filter(
            instructor_id=instructor_id, status__in=[EntryStatus.WAITING, EntryStatus.ADMITTED]
        )
        .select_related("student")
        .order_by("joined_queue_at", "id")
    )
    admitted = sorted((e for e in entries if e.status == EntryStatus.ADMITTED), key=lambda e: (e.admitted_at, e.id))
    waiting = [e for e in entries if e.status == EntryStatus.WAITING]
    rows = []
    for entry in admitted:
        rows.append(_instructor_row(entry, None, None, now))
    for position, entry in enumerate(waiting, start=1):
        rows.append(_instructor_row(entry, position, estimate_minutes(position, mean), now))
    if limit is not None:
        rows = rows[:limit]
    return {
        "instructor_id": instructor_id,
        "viewer": "instructor",
        "is_open": queue_is_open(instructor_id=instructor_id, now=now),
        "queue_length": len(waiting),
        "admitted_count": len(admitted),
        "mean_service_minutes": round(mean, 2),
        "mean_exact": mean,  # not serialized; lets publishers reuse it
        "entries": rows,
    }


def _instructor_row(entry: OfficeHoursQueue, position: int | None, estimate: int | None, now: datetime) -> dict:
    return {
        "id": entry.id,
        "student": {"id": entry.student_id, "name": entry.student.name},
        "status": entry.status,
        "question": entry.question,
        "position": position,
        "estimated_wait_minutes": estimate,
        "joined_queue_at": entry.joined_queue_at,
        "admitted_at": entry.admitted_at,
        "waiting_minutes": int(max((now - entry.joined_queue_at).total_seconds(), 0) // 60),
    }


def queue_view_student(*, student: User, instructor_id: uuid.UUID) -> dict:
    """Only the student's own entry plus counts: never another student's name or question."""
    mean = mean_service_minutes(instructor_id=instructor_id)
    spots = waiting_spots(instructor_id=instructor_id, mean_minutes=mean)
    entry = (
        OfficeHoursQueue.objects.filter(
            instructor_id=instructor_id, student_id=student.id, status__in=[EntryStatus.WAITING, EntryStatus.ADMITTED]
        )
        .order_by("-joined_queue_at")
        .first()
    )
    own = None
    if entry is not None:
        spot = spots.get(entry.id)
        own = {
            "id": entry.id,
            "status": entry.status,
            "question": entry.question,
            "position": spot.position if spot else None,
            "estimated_wait_minutes": spot.estimate if spot else None,
            "joined_queue_at": entry.joined_queue_at,
            "admitted_at": entry.admitted_at,
        }
    if own is not None and own["estimated_wait_minutes"] is not None:
        estimate = own["estimated_wait_minutes"]
    elif own is not None:
        estimate = 0  # admitted: being served now
    else:
        estimate = estimate_minutes(len(spots) + 1, mean)  # what joining now would mean
    return {
        "instructor_id": instructor_id,
        "viewer": "student",
        "is_open": queue_is_open(instructor_id=instructor_id),
        "queue_length": len(spots),
        "estimated_wait_minutes": estimate,
        "entry": own,
    }


def queue_get(*, viewer: User, instructor_id: uuid.UUID, limit: int | None = None) -> dict:
    """The viewer's view of an instructor's queue: full for managers, own for eligible students."""
    instructor = instructor_get(instructor_id=instructor_id)
    if OfficeHoursPermission.can_manage(viewer, instructor.id):
        return queue_view_instructor(instructor_id=instructor.id, limit=limit)
    if OfficeHoursPermission.can_queue(viewer, instructor.id):
        return queue_view_student(student=viewer, instructor_id=instructor.id)
    raise NotAllowed("Only students of this instructor's courses can see this queue.", code="not_eligible")


def entry_get_for_action(*, actor: User, entry_id: uuid.UUID) -> OfficeHoursQueue:
    """An entry the actor manages. Their own entry: 403; anyone else's: 404."""
    entry = OfficeHoursQueue.objects.filter(id=entry_id).first()
    if entry is None:
        raise NotFound("No queue entry with this id.", code="entry_not_found")
    if OfficeHoursPermission.can_manage(actor, entry.instructor_id):
        return entry
    if entry.student_id == actor.id:
        raise NotAllowed("Only the instructor can do this to a queue entry.", code="not_queue_instructor")
    raise NotFound("No queue entry with this id.", code="entry_not_found")
