"""Schedule writes (weekly slots) and opening/closing a queue by hand. A slot change
can open or close the queue at once, so these run under the instructor's lock too."""

from __future__ import annotations

import uuid
from datetime import time

from django.db import transaction
from djangorestframework_camel_case.util import camelize

from collab.accounts.models import User
from collab.core.bodies import MSG_UNKNOWN_FIELD
from collab.core.errors import Conflict, InvalidInput, NotAllowed, input_field
from collab.realtime.broadcast import broadcast_on_commit
from officehours import events, selectors
from officehours.models import OfficeHours, OfficeHoursQueueState
from officehours.permissions import OfficeHoursPermission
from officehours.schedule import is_valid_timezone
from officehours.services.state import QueueChange, course_rooms_of

EDITABLE = ("day_of_week", "start_time", "end_time", "timezone", "location", "meeting_url", "is_active")


def _check_slot(slot: OfficeHours) -> None:
    fields: dict[str, list[str]] = {}
    if not (isinstance(slot.day_of_week, int) and 0 <= slot.day_of_week <= 6):
        fields["dayOfWeek"] = ["Must be 0 (Sunday) to 6 (Saturday)."]
    if not is_valid_timezone(slot.timezone):
        fields["timezone"] = ["Unknown time zone; use an IANA name such as Europe/Berlin."]
    if isinstance(slot.start_time, time) and isinstance(slot.end_time, time) and slot.end_time <= slot.start_time:
        fields["endTime"] = ["Must be after startTime."]
    if fields:
        raise InvalidInput.for_fields(fields)


def _announce_schedule(instructor_id: uuid.UUID) -> None:
    payload = events.schedule_payload(
        instructor_id=instructor_id, slots=selectors.slots_for_instructor(instructor_id=instructor_id)
    )
    for room in [events.office_hours_room(instructor_id), *course_rooms_of(instructor_id)]:
        broadcast_on_commit(room, events.SCHEDULE_UPDATED, payload)


def _require_owner(actor: User, slot: OfficeHours) -> None:
    if not OfficeHoursPermission.can_change_slot(actor, slot):
        raise NotAllowed(
            "Only the instructor and the slot's own staff member can change it.", code="not_office_hours_owner"
        )


@transaction.atomic
def office_hours_create(
    *,
    actor: User,
    day_of_week: int,
    start_time: time,
    end_time: time,
    timezone: str = "UTC",
    location: str = "",
    meeting_url: str = "",
    is_active: bool = True,
    instructor_id: uuid.UUID | None = None,
) -> OfficeHours:
    """A weekly slot in `instructor_id`'s schedule (default: the actor's own), held by the
    actor: the instructor, or a TA of one of the instructor's courses (`staff`)."""
    instructor_id = instructor_id or actor.id
    if instructor_id != actor.id:
        with input_field("instructorId"):
            selectors.instructor_get(instructor_id=instructor_id)
    if not OfficeHoursPermission.can_create_slot(actor, instructor_id):
        if instructor_id == actor.id:
            raise NotAllowed("Only instructors can create office hours.", code="not_instructor")
        raise NotAllowed(
            "Only the TAs of this instructor's courses can add to their schedule.", code="not_course_staff"
        )
    slot = OfficeHours(
        instructor_id=instructor_id,
        staff=actor,
        day_of_week=day_of_week,
        start_time=start_time,
        end_time=end_time,
        timezone=timezone,
        location=location,
        meeting_url=meeting_url,
        is_active=is_active,
    )
    _check_slot(slot)
    with QueueChange(instructor_id) as change:
        slot.save()
        change.sync_open()  # a slot in progress opens the queue right away
    _announce_schedule(instructor_id)
    return slot


@transaction.atomic
def office_hours_update(*, actor: User, office_hours_id: uuid.UUID, **changes) -> OfficeHours:
    slot = selectors.slot_get(slot_id=office_hours_id)
    _require_owner(actor, slot)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput.for_fields(camelize({name: [MSG_UNKNOWN_FIELD] for name in sorted(unknown)}))
    with QueueChange(slot.instructor_id) as change:
        slot = OfficeHours.objects.select_for_update().get(id=slot.id)
        for name, value in changes.items():
            setattr(slot, name, value)
        _check_slot(slot)
        slot.save()
        change.sync_open()
    _announce_schedule(slot.instructor_id)
    return slot


@transaction.atomic
def office_hours_delete(*, actor: User, office_hours_id: uuid.UUID) -> None:
    slot = selectors.slot_get(slot_id=office_hours_id)
    _require_owner(actor, slot)
    with QueueChange(slot.instructor_id) as change:
        OfficeHours.objects.filter(id=slot.id).delete()
        change.sync_open()
    _announce_schedule(slot.instructor_id)


@transaction.atomic
def queue_open(*, actor: User, instructor_id: uuid.UUID) -> OfficeHoursQueueState:
    """Open by hand: stays open (also past a slot's end) until closed by hand."""
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    if not OfficeHoursPermission.can_own(actor, instructor.id):
        raise NotAllowed("Only the instructor can open their queue.", code="not_queue_instructor")
    with QueueChange(instructor.id) as change:
        if change.state.manually_opened:
            raise Conflict("The queue is already open.", code="already_open")
        change.state.manually_opened = True
        change.state.save(update_fields=["manually_opened"])
        change.sync_open()
        return change.state


@transaction.atomic
def queue_close(*, actor: User, instructor_id: uuid.UUID) -> OfficeHoursQueueState:
    """Close by hand until the next slot starts. Students already waiting are still served
    while the current slot lasts; with no slot in progress they are removed at once
    (reason office_hours_ended), as when a slot ends."""
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    if not OfficeHoursPermission.can_own(actor, instructor.id):
        raise NotAllowed("Only the instructor can close their queue.", code="not_queue_instructor")
    with QueueChange(instructor.id) as change:
        if not change.sync_open():
            raise Conflict("The queue is already closed.", code="already_closed")
        change.state.manually_opened = False
        change.state.manually_closed_at = change.now
        change.state.save(update_fields=["manually_opened", "manually_closed_at"])
        change.sync_open()
        return change.state


RULES = ("rejoin_cooldown_minutes", "daily_question_cap")


@transaction.atomic
def queue_rules_update(*, actor: User, instructor_id: uuid.UUID, **rules: int | None) -> OfficeHoursQueueState:
    """Sets the queue's fairness rules (`rejoin_cooldown_minutes`, `daily_question_cap`;
    None removes a rule). Only the given keys change. The instructor and admins."""
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    if not OfficeHoursPermission.can_own(actor, instructor.id):
        raise NotAllowed("Only the instructor can set the queue's rules.", code="not_queue_instructor")
    unknown = set(rules) - set(RULES)
    if unknown:
        raise InvalidInput.for_fields(camelize({name: [MSG_UNKNOWN_FIELD] for name in sorted(unknown)}))
    with QueueChange(instructor.id) as change:
        for name, value in rules.items():
            setattr(change.state, name, value)
        change.state.save(update_fields=list(rules) or None)
        return change.state
