"""Queue writes. Every one runs under the instructor's state-row lock (QueueChange), so
joins get distinct places and two "admit next" never pick the same student; the partial
unique constraint officehours_one_open_entry backs the one-open-entry rule in the database.

Transitions: waiting -> admitted (instructor) -> completed (instructor); waiting -> left
(the student); waiting|admitted -> removed (instructor, with a reason); admitted ->
waiting (instructor undo; joinedQueueAt is kept, so the student keeps their place).
Anything else is a Conflict (409, code invalid_transition).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction

from collab.accounts.models import User
from collab.core.errors import Conflict, NotAllowed, NotFound
from collab.courses.models import Course
from collab.realtime.broadcast import sockets_control_on_commit
from collab.realtime.rooms import user_room
from officehours import events, selectors
from officehours.models import EntryStatus, OfficeHoursQueue
from officehours.permissions import OfficeHoursPermission
from officehours.services.state import QueueChange

ALLOWED = {
    "admit": {EntryStatus.WAITING},
    "complete": {EntryStatus.ADMITTED},
    "leave": {EntryStatus.WAITING},
    "remove": {EntryStatus.WAITING, EntryStatus.ADMITTED},
    "requeue": {EntryStatus.ADMITTED},
}


DONE = {"admit": "admitted", "complete": "completed", "leave": "left", "remove": "removed", "requeue": "requeued"}


def _require_transition(entry: OfficeHoursQueue, action: str) -> None:
    if entry.status not in ALLOWED[action]:
        raise Conflict(f"This entry is {entry.status}; it cannot be {DONE[action]}.", code="invalid_transition")


def _require_manager(actor: User, instructor_id: uuid.UUID) -> None:
    if not OfficeHoursPermission.can_manage(actor, instructor_id):
        raise NotAllowed("Only the instructor can manage this queue.", code="not_queue_instructor")


def _locked_entry(entry_id: uuid.UUID) -> OfficeHoursQueue:
    # Read again under the instructor's lock: its status may have moved meanwhile.
    return OfficeHoursQueue.objects.select_for_update().select_related("student").get(id=entry_id)


@transaction.atomic
def queue_join(*, actor: User, instructor_id: uuid.UUID, question: str) -> OfficeHoursQueue:
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    if not OfficeHoursPermission.can_queue(actor, instructor.id):
        raise NotAllowed("Only students of this instructor's courses can join the queue.", code="not_eligible")
    question = question.strip()
    with QueueChange(instructor.id) as change:
        # Again under the lock: an unenrolment that committed while we waited for it
        # (queue_entry_end_for_unenrolled holds the same lock) must not be undone by us.
        if not OfficeHoursPermission.can_queue(actor, instructor.id):
            raise NotAllowed("Only students of this instructor's courses can join the queue.", code="not_eligible")
        if not change.sync_open():
            raise Conflict("The office-hours queue is closed.", code="queue_closed")
        if OfficeHoursQueue.objects.filter(
            instructor_id=instructor.id, student_id=actor.id, status__in=[EntryStatus.WAITING, EntryStatus.ADMITTED]
        ).exists():
            raise Conflict("You are already in this queue.", code="already_in_queue")
        # First come, first served even when two joins read the same clock: under the lock,
        # each join is strictly later than every open entry (an admitted one may be requeued).
        last = (
            OfficeHoursQueue.objects.filter(
                instructor_id=instructor.id, status__in=[EntryStatus.WAITING, EntryStatus.ADMITTED]
            )
            .order_by("-joined_queue_at")
            .values_list("joined_queue_at", flat=True)
            .first()
        )
        joined_at = max(change.now, last + timedelta(microseconds=1)) if last else change.now
        try:
            with transaction.atomic():
                entry = OfficeHoursQueue.objects.create(
                    instructor_id=instructor.id, student=actor, question=question, joined_queue_at=joined_at
                )
        except IntegrityError:
            raise Conflict("You are already in this queue.", code="already_in_queue")
        # The place this join got, read under the lock (so no two joins are told the same).
        spot = selectors.waiting_spots(instructor_id=instructor.id)[entry.id]
        entry.position, entry.estimated_wait_minutes = spot.position, spot.estimate
        change.touch()
    return entry


@transaction.atomic
def queue_leave(*, actor: User, instructor_id: uuid.UUID, missing_ok: bool = False) -> OfficeHoursQueue | None:
    """The student withdraws their waiting entry. `missing_ok` (the socket's leave) returns
    None instead of refusing when there is no waiting entry."""
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    with QueueChange(instructor.id) as change:
        entry = (
            OfficeHoursQueue.objects.select_for_update()
            .select_related("student")
            .filter(
                instructor_id=instructor.id, student_id=actor.id, status__in=[EntryStatus.WAITING, EntryStatus.ADMITTED]
            )
            .first()
        )
        if entry is None or (missing_ok and entry.status != EntryStatus.WAITING):
            if missing_ok:
                return None
            if not OfficeHoursPermission.can_queue(actor, instructor.id):
                raise NotAllowed("Only students of this instructor's courses use this queue.", code="not_eligible")
            raise Conflict("You are not waiting in this queue.", code="not_in_queue")
        _require_transition(entry, "leave")
        entry.status = EntryStatus.LEFT
        entry.ended_at = change.now
        entry.save(update_fields=["status", "ended_at"])
        change.tell_instructor(
            events.STUDENT_LEFT,
            events.student_left_payload(
                instructor_id=instructor.id, entry_id=entry.id, student_id=actor.id, student_name=actor.name
            ),
        )
        change.touch()
    return entry


@transaction.atomic
def queue_admit(*, actor: User, instructor_id: uuid.UUID, entry_id: uuid.UUID | None = None) -> OfficeHoursQueue:
    """Admit that entry, or the first in line. Allowed while the queue is closed: the
    instructor may still serve those already waiting."""
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    _require_manager(actor, instructor.id)
    with QueueChange(instructor.id) as change:
        change.sync_open()
        if entry_id is None:
            entry = (
                OfficeHoursQueue.objects.select_for_update()
                .select_related("student")
                .filter(instructor_id=instructor.id, status=EntryStatus.WAITING)
                .order_by("joined_queue_at", "id")
                .first()
            )
            if entry is None:
                raise Conflict("Nobody is waiting.", code="queue_empty")
        else:
            entry = (
                OfficeHoursQueue.objects.select_for_update()
                .select_related("student")
                .filter(id=entry_id, instructor_id=instructor.id)
                .first()
            )
            if entry is None:
                raise NotFound("No queue entry with this id in this queue.", code="entry_not_found")
            _require_transition(entry, "admit")
        entry.status = EntryStatus.ADMITTED
        entry.admitted_at = change.now
        entry.save(update_fields=["status", "admitted_at"])
        slot = change.current_slot()
        change.tell_student(
            entry.student_id,
            events.ADMITTED,
            events.admitted_payload(
                instructor_id=instructor.id,
                entry_id=entry.id,
                meeting_url=slot.meeting_url if slot else "",
                location=slot.location if slot else "",
            ),
        )
        change.touch()
    return entry


def _entry_action(actor: User, entry_id: uuid.UUID, action: str, apply) -> OfficeHoursQueue:
    found = selectors.entry_get_for_action(actor=actor, entry_id=entry_id)
    with QueueChange(found.instructor_id) as change:
        change.sync_open()
        entry = _locked_entry(found.id)
        _require_transition(entry, action)
        apply(entry, change)
        change.touch()
    return entry


@transaction.atomic
def queue_entry_complete(*, actor: User, entry_id: uuid.UUID) -> OfficeHoursQueue:
    def apply(entry: OfficeHoursQueue, change: QueueChange) -> None:
        entry.status = EntryStatus.COMPLETED
        entry.completed_at = change.now
        entry.save(update_fields=["status", "completed_at"])
        change.tell_student(
            entry.student_id,
            events.COMPLETED,
            events.entry_ref_payload(instructor_id=entry.instructor_id, entry_id=entry.id),
        )

    return _entry_action(actor, entry_id, "complete", apply)


@transaction.atomic
def queue_entry_remove(*, actor: User, entry_id: uuid.UUID, reason: str) -> OfficeHoursQueue:
    reason = reason.strip()

    def apply(entry: OfficeHoursQueue, change: QueueChange) -> None:
        entry.status = EntryStatus.REMOVED
        entry.removed_reason = reason
        entry.ended_at = change.now
        entry.save(update_fields=["status", "removed_reason", "ended_at"])
        change.tell_student(
            entry.student_id,
            events.REMOVED,
            events.removed_payload(instructor_id=entry.instructor_id, entry_id=entry.id, reason=reason),
        )

    return _entry_action(actor, entry_id, "remove", apply)


@transaction.atomic
def queue_entry_requeue(*, actor: User, entry_id: uuid.UUID) -> OfficeHoursQueue:
    """Undo an admit: back to waiting with the original joinedQueueAt (the same place)."""

    def apply(entry: OfficeHoursQueue, change: QueueChange) -> None:
        entry.status = EntryStatus.WAITING
        entry.admitted_at = None
        entry.save(update_fields=["status", "admitted_at"])

    return _entry_action(actor, entry_id, "requeue", apply)


@transaction.atomic
def queue_clear(*, actor: User, instructor_id: uuid.UUID, reason: str) -> int:
    """Staff or the instructor remove every waiting entry with `reason`; each student is told."""
    _require_manager(actor, instructor_id)
    with QueueChange(instructor_id) as change:
        return change.remove_waiting(reason=reason.strip() or "cleared")


@transaction.atomic
def queue_entry_end_for_unenrolled(
    *, course: Course, user_id: uuid.UUID, actor: User | None
) -> OfficeHoursQueue | None:
    """Receiver of `enrollment_removed` (collab.courses.signals). A student who is no longer enrolled
    in any course of `course`'s instructor loses their waiting or admitted entry in that
    instructor's queue (removed, reason `unenrolled`: the student is told, the instructor
    gets the updated queue, the others their new positions) and their sockets leave
    `office-hours-<instructorId>`. Still enrolled in another of the instructor's courses:
    nothing changes. Returns the removed entry, if any.

    The instructor's queue lock is taken even when no entry is seen, and queue_join checks
    eligibility again under it: a join racing the unenrolment either committed first and
    is removed here, or waits and is refused."""
    instructor_id = course.instructor_id
    user = User.objects.get(id=user_id)
    if OfficeHoursPermission.can_queue(user, instructor_id):
        return None
    entry = None
    with QueueChange(instructor_id) as change:
        change.sync_open()
        entry = (
            OfficeHoursQueue.objects.select_for_update()
            .filter(instructor_id=instructor_id, student_id=user.id, status__in=ALLOWED["remove"])
            .first()
        )
        if entry is not None:
            entry.status = EntryStatus.REMOVED
            entry.removed_reason = events.REASON_UNENROLLED
            entry.ended_at = change.now
            entry.save(update_fields=["status", "removed_reason", "ended_at"])
            change.tell_student(
                user.id,
                events.REMOVED,
                events.removed_payload(instructor_id=instructor_id, entry_id=entry.id, reason=events.REASON_UNENROLLED),
            )
            change.touch()
    if not OfficeHoursPermission.can_subscribe(user, instructor_id):
        sockets_control_on_commit(user_room(user.id), leave=[events.office_hours_room(instructor_id)])
    return entry
