"""Course writes. Enrolment changes move the user's open sockets in or out of the
course room at once, after commit."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from collab.accounts.models import User
from collab.accounts.selectors import user_find
from collab.core.errors import Conflict, NotAllowed, NotFound
from collab.courses import events
from collab.courses.models import Course, Enrollment, EnrollmentRole
from collab.courses.permissions import CoursePermission
from collab.courses.signals import enrollment_removed, enrollment_role_changed
from collab.realtime.broadcast import sockets_control_on_commit
from collab.realtime.rooms import course_room, user_room


@transaction.atomic
def course_create(*, actor: User, title: str, description: str = "") -> Course:
    if not CoursePermission.can_create(actor):
        raise NotAllowed("Only instructors can create courses.", code="not_instructor")
    course = Course.objects.create(title=title, description=description, instructor=actor)
    # The instructor's open sockets start following the new course right away.
    sockets_control_on_commit(
        user_room(actor.id),
        join=[course_room(course.id)],
        event=events.COURSE_ENROLLED,
        data=events.course_payload(course),
    )
    return course


def _require_manager(actor: User, course: Course) -> None:
    if not CoursePermission.can_manage(actor, course):
        raise NotAllowed(
            "Only the course's instructor or an admin can change enrolments.", code="not_course_instructor"
        )


@transaction.atomic
def enrollment_create(
    *,
    actor: User,
    course: Course,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
    role: str = EnrollmentRole.STUDENT,
) -> Enrollment:
    """Enrols a user by id or email as `student` (default) or `ta`. The course's
    instructor and admins only (403 not_course_instructor; a TA may not enrol)."""
    _require_manager(actor, course)
    user = user_find(user_id=user_id, email=email)
    if user is None:
        message = "No active user with that id or email."
        raise NotFound(message, code="user_not_found", fields={"userId" if user_id else "email": [message]})
    if user.id == course.instructor_id:
        raise Conflict("The instructor is already a member of the course.", code="already_member")
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(course=course, user=user, role=role)
    except IntegrityError:
        raise Conflict("This user is already enrolled.", code="already_enrolled")
    room = course_room(course.id)

    def admitted_at(join_seqs: dict[str, int]) -> None:
        # The seq the user's sockets join the room at, kept in this same transaction:
        # `resume` never replays the room's frames from before it (docs/protocol.md).
        enrollment.admitted_seq = join_seqs[room]
        Enrollment.objects.filter(pk=enrollment.pk).update(admitted_seq=enrollment.admitted_seq)

    sockets_control_on_commit(
        user_room(user.id),
        join=[room],
        event=events.COURSE_ENROLLED,
        data=events.course_payload(course, role=enrollment.role),
        on_joined=admitted_at,
    )
    return enrollment


@transaction.atomic
def enrollment_role_update(*, actor: User, course: Course, user_id: uuid.UUID, role: str) -> Enrollment:
    """Makes an enrolled user a `student` or a `ta` of the course (the instructor and
    admins). The user's sockets get `course-role-changed`. Refused with 409
    `in_office_hours_queue` while the user waits or is being served in the instructor's
    queue as a student and would no longer be one: staff do not queue for their own
    office hours; the entry ends first."""
    _require_manager(actor, course)
    enrollment = (
        Enrollment.objects.select_for_update().select_related("user").filter(course=course, user_id=user_id).first()
    )
    if enrollment is None:
        raise NotFound("This user is not enrolled in the course.", code="enrollment_not_found")
    if enrollment.role == role:
        return enrollment
    enrollment.role = role
    enrollment.save(update_fields=["role"])
    enrollment_role_changed.send(sender=Course, course=course, enrollment=enrollment, actor=actor)
    sockets_control_on_commit(
        user_room(user_id),
        event=events.COURSE_ROLE_CHANGED,
        data={"courseId": str(course.id), "role": role},
    )
    return enrollment


@transaction.atomic
def enrollment_delete(*, actor: User, course: Course, user_id: uuid.UUID) -> None:
    _require_manager(actor, course)
    deleted, _ = Enrollment.objects.filter(course=course, user_id=user_id).delete()
    if not deleted:
        raise NotFound("This user is not enrolled in the course.", code="enrollment_not_found")
    # The apps take the user out of what hangs off the course (groups, sessions, queues)
    # in this same transaction: a failing receiver rolls the whole unenrolment back.
    enrollment_removed.send(sender=Course, course=course, user_id=user_id, actor=actor)
    sockets_control_on_commit(
        user_room(user_id),
        leave=[course_room(course.id)],
        event=events.COURSE_UNENROLLED,
        data={"courseId": str(course.id)},
    )
