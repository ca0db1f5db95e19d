"""Office-hours reads of the schedule: instructors, slots, whether a queue is open and
the queue's time zone and days."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from collab.accounts.models import Role, User
from collab.core.errors import NotFound
from officehours.models import OfficeHours, OfficeHoursQueueState
from officehours.permissions import OfficeHoursPermission
from officehours.schedule import current_occurrences, scheduled_open, zone


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
    return slots.select_related("staff", "instructor").order_by("day_of_week", "start_time", "id")


def queue_is_open(*, instructor_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Computed from the clock and the hand-set state (not the last announced state)."""
    state = OfficeHoursQueueState.objects.filter(instructor_id=instructor_id).first()
    return _open_by(state, slots_for_instructor(instructor_id=instructor_id), now or timezone.now())


def _open_by(state: OfficeHoursQueueState | None, active_slots, now: datetime) -> bool:
    if state is not None and state.manually_opened:
        return True
    occurrences = current_occurrences(active_slots, now)
    return scheduled_open(occurrences, state.manually_closed_at if state else None)


def schedule_get(*, viewer: User, instructor_id: uuid.UUID) -> dict:
    instructor = instructor_get(instructor_id=instructor_id)
    include_inactive = OfficeHoursPermission.can_serve(viewer, instructor.id)
    slots = list(slots_for_instructor(instructor_id=instructor.id, include_inactive=include_inactive))
    state = OfficeHoursQueueState.objects.filter(instructor_id=instructor.id).first()
    return {
        "instructor_id": instructor.id,
        # current_occurrences skips inactive slots itself.
        "is_open": _open_by(state, slots, timezone.now()),
        "slots": slots,
        "rejoin_cooldown_minutes": state.rejoin_cooldown_minutes if state else None,
        "daily_question_cap": state.daily_question_cap if state else None,
    }


def queue_timezone(*, instructor_id: uuid.UUID) -> str:
    """The zone the queue's days are counted in (daily cap, stats default): that of the
    instructor's own earliest active slot, else any active slot's, else UTC."""
    rows = list(
        OfficeHours.objects.filter(instructor_id=instructor_id, is_active=True)
        .order_by("day_of_week", "start_time", "id")
        .values_list("timezone", "staff_id")
    )
    for tz, staff_id in rows:
        if staff_id is None or staff_id == instructor_id:
            return tz
    return rows[0][0] if rows else "UTC"


def queue_day_bounds(*, instructor_id: uuid.UUID, now: datetime) -> tuple[datetime, datetime]:
    """[start of today, start of tomorrow) in the queue's time zone, as aware datetimes."""
    tz = zone(queue_timezone(instructor_id=instructor_id))
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), time(0), tzinfo=tz)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    return start, end
