"""Office-hours reads of the queue: positions, estimated waits, the two views of a
queue (the staff's full view, a student's own view) and the entries staff act on."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from collab.accounts.models import User
from collab.core.errors import NotAllowed, NotFound
from collab.courses import membership
from collab.courses.models import Enrollment, EnrollmentRole
from officehours.models import EntryStatus, OfficeHoursQueue
from officehours.permissions import OfficeHoursPermission
from officehours.selectors.announcements import announcements_latest
from officehours.selectors.schedule import instructor_get, queue_is_open

# Estimated wait = position x mean service time of the instructor's last SERVICE_SAMPLE
# completed entries (admittedAt -> completedAt), DEFAULT_SERVICE_MINUTES without history,
# rounded up to whole minutes.
SERVICE_SAMPLE = 10
DEFAULT_SERVICE_MINUTES = 10.0


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


def queue_view_instructor(
    *, instructor_id: uuid.UUID, limit: int | None = None, scope: list[uuid.UUID] | None = None
) -> dict:
    """The full queue: admitted entries first (being served), then waiting in order, and
    the queue's staff ([{id, name, role}], the instructor first). `scope` (a TA's
    courses): only their students' entries and the staff of those courses; positions
    stay the students' real places in the whole queue."""
    if scope is not None:
        full = queue_view_instructor(instructor_id=instructor_id)
        students = _students_of(scope, {row["student"]["id"] for row in full["entries"]})
        return _cut_to_students(full, students, scope, limit=limit)
    now = timezone.now()
    mean = mean_service_minutes(instructor_id=instructor_id)
    ta_rows = list(membership.queue_ta_rows(instructor_id))
    entries = list(
        OfficeHoursQueue.objects.filter(
            instructor_id=instructor_id, status__in=[EntryStatus.WAITING, EntryStatus.ADMITTED]
        )
        .select_related("student", "admitted_by")
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
        "staff": _staff_roster(instructor_id, ta_rows),
        "ta_rows": ta_rows,  # not serialized; each TA's cut takes its share of the staff
    }


def _students_of(course_ids, student_ids: set) -> set[uuid.UUID]:
    """Of these users, those enrolled as students in `course_ids` (one query)."""
    return set(
        Enrollment.objects.filter(
            course_id__in=course_ids, role=EnrollmentRole.STUDENT, user_id__in=student_ids
        ).values_list("user_id", flat=True)
    )


def _cut_to_students(view: dict, student_ids: set, course_ids, *, limit: int | None = None) -> dict:
    """A TA's share of the full view: the entries of `student_ids`, the staff of `course_ids`."""
    rows = [row for row in view["entries"] if row["student"]["id"] in student_ids]
    courses = set(course_ids)
    return {
        **view,
        "queue_length": sum(1 for row in rows if row["position"] is not None),
        "admitted_count": sum(1 for row in rows if row["position"] is None),
        "entries": rows[:limit] if limit is not None else rows,
        "staff": _staff_roster(view["instructor_id"], [row for row in view["ta_rows"] if row[2] in courses]),
    }


def _staff_roster(instructor_id: uuid.UUID, ta_rows) -> list[dict]:
    """[{id, name, role}]: the instructor first, then each TA of `ta_rows` once, by name
    (one query, for the instructor's name)."""
    name = User.objects.filter(id=instructor_id).values_list("name", flat=True).first() or ""
    roster = [{"id": instructor_id, "name": name, "role": "instructor"}]
    seen = set()
    for user_id, ta_name, _course_id in ta_rows:
        if user_id not in seen and user_id != instructor_id:
            seen.add(user_id)
            roster.append({"id": user_id, "name": ta_name, "role": "ta"})
    return roster


def queue_views_for_tas(*, instructor_id: uuid.UUID, view: dict) -> list[tuple[list[uuid.UUID], dict]]:
    """For publishing: [(TA ids, the full `view` cut to those TAs' students)], one per
    distinct set of assisted courses. Two queries whatever the number of TAs."""
    courses_of: dict[uuid.UUID, set] = defaultdict(set)
    for user_id, course_id in membership.queue_ta_ids(instructor_id):
        courses_of[user_id].add(course_id)
    if not courses_of:
        return []
    student_ids = {row["student"]["id"] for row in view["entries"]}
    enrolled: dict[uuid.UUID, set] = defaultdict(set)
    for course_id, user_id in Enrollment.objects.filter(
        course_id__in=set().union(*courses_of.values()), role=EnrollmentRole.STUDENT, user_id__in=student_ids
    ).values_list("course_id", "user_id"):
        enrolled[course_id].add(user_id)
    by_scope: dict[frozenset, list[uuid.UUID]] = defaultdict(list)
    for ta_id, course_ids in courses_of.items():
        by_scope[frozenset(course_ids)].append(ta_id)
    return [
        (ta_ids, _cut_to_students(view, set().union(*(enrolled[c] for c in scope)), scope))
        for scope, ta_ids in by_scope.items()
    ]


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
        "admitted_by": {"id": entry.admitted_by_id, "name": entry.admitted_by.name} if entry.admitted_by else None,
        "waiting_minutes": int(max((now - entry.joined_queue_at).total_seconds(), 0) // 60),
    }


def queue_view_student(*, student: User, instructor_id: uuid.UUID) -> dict:
    """Only the student's own entry plus counts: never another student's name or question.
    `staff`: who serves this student (the instructor, the TAs of their courses)."""
    mean = mean_service_minutes(instructor_id=instructor_id)
    spots = waiting_spots(instructor_id=instructor_id, mean_minutes=mean)
    entry = (
        OfficeHoursQueue.objects.filter(
            instructor_id=instructor_id, student_id=student.id, status__in=[EntryStatus.WAITING, EntryStatus.ADMITTED]
        )
        .select_related("admitted_by")
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
            "admitted_by": {"id": entry.admitted_by_id, "name": entry.admitted_by.name} if entry.admitted_by else None,
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
        "announcements": announcements_latest(instructor_id=instructor_id),
        "staff": _staff_roster(instructor_id, membership.queue_ta_rows(instructor_id, student_id=student.id)),
    }


def queue_get(*, viewer: User, instructor_id: uuid.UUID, limit: int | None = None) -> dict:
    """The viewer's view of an instructor's queue: full for staff (a TA: their courses'
    students), own for eligible students."""
    instructor = instructor_get(instructor_id=instructor_id)
    if OfficeHoursPermission.can_serve(viewer, instructor.id):
        scope = OfficeHoursPermission.serve_scope(viewer, instructor.id)
        return queue_view_instructor(instructor_id=instructor.id, limit=limit, scope=scope)
    if OfficeHoursPermission.can_queue(viewer, instructor.id):
        return queue_view_student(student=viewer, instructor_id=instructor.id)
    raise NotAllowed("Only students of this instructor's courses can see this queue.", code="not_eligible")


def entry_get_for_action(*, actor: User, entry_id: uuid.UUID) -> OfficeHoursQueue:
    """An entry the actor serves (a TA: of their courses' students). Their own entry:
    403; anyone else's: 404."""
    entry = OfficeHoursQueue.objects.filter(id=entry_id).first()
    if entry is None:
        raise NotFound("No queue entry with this id.", code="entry_not_found")
    if OfficeHoursPermission.can_serve(actor, entry.instructor_id):
        scope = OfficeHoursPermission.serve_scope(actor, entry.instructor_id)
        if scope is None or OfficeHoursQueue.objects.filter(membership.student_in_courses(scope), id=entry.id).exists():
            return entry
    if entry.student_id == actor.id:
        raise NotAllowed("Only the instructor can do this to a queue entry.", code="not_queue_instructor")
    raise NotFound("No queue entry with this id.", code="entry_not_found")
