"""Queue writes. Every one runs under the instructor's state-row lock (QueueChange), so
joins get distinct places and two "admit next" never pick the same student; the partial
unique constraint officehours_one_open_entry backs the one-open-entry rule in the database.

Transitions: waiting -> admitted (staff) -> completed (staff); waiting -> left (the
student); waiting|admitted -> removed (staff, with a reason); admitted -> waiting (staff
undo; joinedQueueAt is kept, so the student keeps their place). Anything else is a
Conflict (409, code invalid_transition). Staff = the instructor, admins, and the TAs of
the instructor's courses for their own courses' students (OfficeHoursPermission).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from collab.accounts.models import User
from collab.core.errors import Conflict, NotAllowed, NotFound
from collab.core.jsonframes import iso
from collab.courses import membership
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


def _require_server(actor: User, instructor_id: uuid.UUID) -> list[uuid.UUID] | None:
    """The actor's serve scope (see OfficeHoursPermission.serve_scope); 403 for non-staff."""
    if not OfficeHoursPermission.can_serve(actor, instructor_id):
        raise NotAllowed(
            "Only the instructor and their course staff can serve this queue.", code="not_queue_instructor"
        )
    return OfficeHoursPermission.serve_scope(actor, instructor_id)


def _scoped(scope: list[uuid.UUID] | None) -> Q:
    return Q() if scope is None else Q(membership.student_in_courses(scope))


def _check_rules(change: QueueChange, student_id: uuid.UUID) -> None:
    """The instructor's fairness rules, under the queue lock: 409 with the time the
    student may join again (`opensAt`)."""
    state = change.state
    if state.rejoin_cooldown_minutes:
        last_done = (
            OfficeHoursQueue.objects.filter(
                instructor_id=change.instructor_id, student_id=student_id, status=EntryStatus.COMPLETED
            )
            .order_by("-completed_at")
            .values_list("completed_at", flat=True)
            .first()
        )
        opens_at = last_done + timedelta(minutes=state.rejoin_cooldown_minutes) if last_done else None
        if opens_at is not None and opens_at > change.now:
            raise Conflict(
                f"You can join this queue again {state.rejoin_cooldown_minutes} minutes after your last meeting.",
                code="rejoin_cooldown",
                details={"opensAt": iso(opens_at)},
            )
    if state.daily_question_cap:
        day_start, next_day = selectors.queue_day_bounds(instructor_id=change.instructor_id, now=change.now)
        asked = OfficeHoursQueue.objects.filter(
            instructor_id=change.instructor_id,
            student_id=student_id,
            joined_queue_at__gte=day_start,
            admitted_at__isnull=False,
        ).count()
        if asked >= state.daily_question_cap:
            raise Conflict(
                f"You have asked {asked} of {state.daily_question_cap} questions allowed today.",
                code="daily_cap_reached",
                details={"opensAt": iso(next_day)},
            )


def _locked_entry(entry_id: uuid.UUID) -> OfficeHoursQueue:
    # Read again under the instructor's lock: its status may have moved meanwhile.
    return OfficeHoursQueue.objects.select_for_update(of=("self",)).select_related("student").get(id=entry_id)


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
        _check_rules(change, actor.id)
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
    """Admit that entry, or the first in line the actor serves (a TA: of their courses'
    students). Allowed while the queue is closed: staff may still serve those already
    waiting. The entry records `admitted_by`; the student's `office-hours-admitted`
    names who is coming and the meeting link of that staff member's slot. Two staff
    admitting at once queue on the instructor's lock, so they get different students."""
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    scope = _require_server(actor, instructor.id)
    with QueueChange(instructor.id) as change:
        change.sync_open()
        if entry_id is None:
            entry = (
                OfficeHoursQueue.objects.select_for_update(of=("self",))
                .select_related("student")
                .filter(_scoped(scope), instructor_id=instructor.id, status=EntryStatus.WAITING)
                .order_by("joined_queue_at", "id")
                .first()
            )
            if entry is None:
                raise Conflict("Nobody is waiting.", code="queue_empty")
        else:
            entry = (
                OfficeHoursQueue.objects.select_for_update(of=("self",))
                .select_related("student")
                .filter(_scoped(scope), id=entry_id, instructor_id=instructor.id)
                .first()
            )
            if entry is None:
                message = "No queue entry with this id in this queue."
                raise NotFound(message, code="entry_not_found", fields={"entryId": [message]})
            _require_transition(entry, "admit")
        entry.status = EntryStatus.ADMITTED
        entry.admitted_at = change.now
        entry.admitted_by = actor
        entry.save(update_fields=["status", "admitted_at", "admitted_by"])
        slot = change.current_slot(staff_id=actor.id)
        change.tell_student(
            entry.student_id,
            events.ADMITTED,
            events.admitted_payload(
                instructor_id=instructor.id,
                entry_id=entry.id,
                meeting_url=slot.meeting_url if slot else "",
                location=slot.location if slot else "",
                admitted_by=actor,
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
        entry.completed_by = actor
        entry.save(update_fields=["status", "completed_at", "completed_by"])
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
        entry.admitted_by = None
        entry.save(update_fields=["status", "admitted_at", "admitted_by"])

    return _entry_action(actor, entry_id, "requeue", apply)


@transaction.atomic
def queue_clear(*, actor: User, instructor_id: uuid.UUID, reason: str) -> int:
    """Staff or the instructor remove every waiting entry with `reason`; each student is told."""
    if not OfficeHoursPermission.can_own(actor, instructor_id):
        raise NotAllowed("Only the instructor can clear this queue.", code="not_queue_instructor")
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


def queue_refuse_staff_in_queue(*, course: Course, enrollment, actor: User | None) -> None:
    """Receiver of collab.courses.signals.enrollment_role_changed: a user made TA who is then no
    longer a student of the instructor's courses may not keep a waiting or admitted
    entry in that queue: 409 `in_office_hours_queue` (the entry ends first)."""
    instructor_id = course.instructor_id
    if enrollment.role != "ta" or OfficeHoursPermission.can_queue(enrollment.user, instructor_id):
        return
    if OfficeHoursQueue.objects.filter(
        instructor_id=instructor_id, student_id=enrollment.user_id, status__in=ALLOWED["remove"]
    ).exists():
        raise Conflict(
            "This user is in the instructor's office-hours queue; their entry must end first.",
            code="in_office_hours_queue",
        )
