"""Who belongs to a course: the one definition every app uses.

A user *teaches* a course when they are its instructor, and is a *member* of it when
they teach it or are enrolled in it (as a `student` or a `ta`). The course's **staff**
are its instructor and its TAs (enrolments with role `ta`); a *student* of a course is
enrolled with role `student`. Office hours are per instructor: staff of an instructor's
queue are the staff of any course they teach, a TA serving only the students of the
courses they assist in (`queue_staff_course_ids`). Admins are not members; each
resource's permission class decides what admins may do on top of membership.

Each rule comes twice, with the same meaning:

- a predicate on objects already loaded (`teaches`, `is_member`, `is_course_staff`), at
  most one query;
- a queryset expression (`teaches_q`, `enrolled_q`, `member_q`, `staff_q`) to filter or annotate
  any model that reaches a course, so a list is checked in the same query that reads it.
  `via` is the path from the queried model to its course: `""` on Course itself,
  `"course"` on a model with a `course` foreign key, `"session__course"` further away.

A change of the enrolment rules (a role, a dropped status) is made here and nowhere else.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet

from collab.courses.models import Course, Enrollment, EnrollmentRole

if TYPE_CHECKING:
    from collab.accounts.models import User

UserId = uuid.UUID | str


def _path(via: str, field: str) -> str:
    return f"{via}__{field}" if via else field


# -- queryset expressions ---------------------------------------------------------------


def teaches_q(user_id: UserId, *, via: str = "") -> Q:
    """Rows whose course `user_id` teaches."""
    return Q(**{_path(via, "instructor_id"): user_id})


def enrolled_q(user_id: UserId, *, via: str = "") -> Exists:
    """Rows whose course `user_id` is enrolled in (an EXISTS subquery: no join, no
    repeated rows, and counts over other enrolments stay whole)."""
    return Exists(Enrollment.objects.filter(course_id=OuterRef(via or "pk"), user_id=user_id))


def member_q(user_id: UserId, *, via: str = "") -> Q:
    """Rows whose course `user_id` is a member of (teaches or is enrolled in)."""
    return teaches_q(user_id, via=via) | enrolled_q(user_id, via=via)


def assists_q(user_id: UserId, *, via: str = "") -> Exists:
    """Rows whose course `user_id` is a TA of."""
    return Exists(Enrollment.objects.filter(course_id=OuterRef(via or "pk"), user_id=user_id, role=EnrollmentRole.TA))


def staff_q(user_id: UserId, *, via: str = "") -> Q:
    """THE rule "is staff of this course" as an expression: teaches it or assists in it."""
    return teaches_q(user_id, via=via) | assists_q(user_id, via=via)


def student_in_courses(course_ids, student_field: str = "student_id") -> Exists:
    """An expression for rows with a user in `student_field`: that user is enrolled as a
    student in one of `course_ids` (a TA's share of an office-hours queue)."""
    return Exists(
        Enrollment.objects.filter(
            course_id__in=course_ids, role=EnrollmentRole.STUDENT, user_id=OuterRef(student_field)
        )
    )


# -- predicates -------------------------------------------------------------------------


def teaches(user: User, course: Course) -> bool:
    """Whether `user` is `course`'s instructor (no query)."""
    return course.instructor_id == user.id


def is_enrolled(user_id: UserId, course_id: UserId) -> bool:
    """Whether `user_id` is enrolled in `course_id` (one query)."""
    return Enrollment.objects.filter(course_id=course_id, user_id=user_id).exists()


def is_member(user: User, course: Course) -> bool:
    """Whether `user` teaches or is enrolled in `course` (at most one query)."""
    return user.id in members_among(course, [user.id])


def members_among(course: Course, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """`is_member` for many users at once: those of `user_ids` who teach or are enrolled
    in `course` (at most one query; a class-start storm's joins are checked together)."""
    members = {user_id for user_id in user_ids if user_id == course.instructor_id}
    others = [user_id for user_id in user_ids if user_id not in members]
    if others:
        members.update(
            Enrollment.objects.filter(course_id=course.id, user_id__in=others).values_list("user_id", flat=True)
        )
    return members


def is_course_staff(user_id: UserId, course: Course) -> bool:
    """THE rule "is staff of this course": its instructor or one of its TAs (at most
    one query)."""
    if course.instructor_id == user_id:
        return True
    return Enrollment.objects.filter(course_id=course.id, user_id=user_id, role=EnrollmentRole.TA).exists()


def is_course_staff_id(user_id: UserId, course_id: UserId) -> bool:
    """`is_course_staff` when only the course's id is at hand (one query)."""
    return Course.objects.filter(staff_q(user_id), id=course_id).exists()


def course_role(user_id: UserId, course: Course) -> str | None:
    """`instructor`, `ta`, `student`, or None for a non-member (at most one query)."""
    if course.instructor_id == user_id:
        return "instructor"
    return Enrollment.objects.filter(course_id=course.id, user_id=user_id).values_list("role", flat=True).first()


def is_course_student_of_instructor(user_id: UserId, instructor_id: UserId) -> bool:
    """Enrolled as a student in some course `instructor_id` teaches (office-hours
    eligibility; never the instructor themself). One query."""
    if str(user_id) == str(instructor_id):
        return False
    return Enrollment.objects.filter(
        user_id=user_id, course__instructor_id=instructor_id, role=EnrollmentRole.STUDENT
    ).exists()


def is_queue_staff(user_id: UserId, instructor_id: UserId) -> bool:
    """Staff of at least one course the instructor teaches (the instructor included):
    `staff_q` over the instructor's courses (one query, none for the instructor)."""
    if str(user_id) == str(instructor_id):
        return True
    return Course.objects.filter(staff_q(user_id), instructor_id=instructor_id).exists()


# -- ids --------------------------------------------------------------------------------


def member_course_ids(user_id: UserId) -> list[uuid.UUID]:
    """The courses `user_id` is a member of, by title: the course rooms their sockets
    join (one query; `member_course_ids_many` for one user)."""
    return [course_id for _, course_id in _member_course_pairs([user_id])]


def member_course_ids_many(user_ids: Iterable[UserId]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """`member_course_ids` of many users in one query: {user id: its course ids, by
    title}; a user who is a member of no course (or does not exist) is left out. Keys
    are UUIDs whatever the type of `user_ids` (a class-start storm's presence syncs
    look up the course rooms of a whole batch of users at once)."""
    courses: dict[uuid.UUID, list[uuid.UUID]] = {}
    for user_id, course_id in _member_course_pairs(user_ids):
        courses.setdefault(user_id, []).append(course_id)
    return courses


def _member_course_pairs(user_ids: Iterable[UserId]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(user id, course id) of every membership of `user_ids`, each once, by title then
    course id: the courses they teach and those they are enrolled in (any role), as one
    UNION of two index look-ups. The rule of `member_q`, for many users at once."""
    ids = list(user_ids)
    if not ids:
        return []
    teaching = Course.objects.filter(instructor_id__in=ids).values_list("instructor_id", "id", "title")
    enrolled = Enrollment.objects.filter(user_id__in=ids).values_list("user_id", "course_id", "course__title")
    # UNION, not UNION ALL: an instructor enrolled in their own course is a member once.
    pairs = teaching.order_by().union(enrolled.order_by()).order_by("title", "id")
    return [(user_id, course_id) for user_id, course_id, _ in pairs]


def members_of_q(courses: QuerySet[Course]) -> Q:
    """A filter on User: the members (instructors and enrolled users) of `courses`,
    as subqueries, not a list."""
    course_ids = courses.values("id")
    students = Enrollment.objects.filter(course_id__in=course_ids).values("user_id")
    instructors = Course.objects.filter(id__in=course_ids).values("instructor_id")
    return Q(id__in=students) | Q(id__in=instructors)


def course_member_ids(*, course_id: UserId, instructor_id: UserId) -> list[uuid.UUID]:
    """The enrolled users and the instructor of one course (one query)."""
    return [*Enrollment.objects.filter(course_id=course_id).values_list("user_id", flat=True), instructor_id]


def course_members_and_staff(course_id: UserId, instructor_id: UserId) -> tuple[list[uuid.UUID], set[uuid.UUID]]:
    """Every member of one course (its enrolled users, then its instructor) and, among
    them, its staff (the instructor and the TAs): one query."""
    rows = list(Enrollment.objects.filter(course_id=course_id).values_list("user_id", "role"))
    members = [user_id for user_id, _ in rows] + [instructor_id]
    staff = {user_id for user_id, role in rows if role == EnrollmentRole.TA} | {instructor_id}
    return members, staff


def course_staff_ids(course_id: UserId) -> list[uuid.UUID]:
    """The instructor first, then the TAs of one course (one query)."""
    instructor_id = Course.objects.filter(id=course_id).values_list("instructor_id", flat=True).first()
    if instructor_id is None:
        return []
    tas = Enrollment.objects.filter(course_id=course_id, role=EnrollmentRole.TA).values_list("user_id", flat=True)
    return [instructor_id, *tas]


def queue_staff_course_ids(user_id: UserId, instructor_id: UserId) -> list[uuid.UUID]:
    """The courses of `instructor_id` that `user_id` is staff of: all of them for the
    instructor, the assisted ones for a TA, none for anyone else (one query)."""
    return list(Course.objects.filter(staff_q(user_id), instructor_id=instructor_id).values_list("id", flat=True))


def queue_ta_ids(instructor_id: UserId) -> QuerySet:
    """(user_id, course_id) of every TA of the instructor's courses."""
    return Enrollment.objects.filter(role=EnrollmentRole.TA, course__instructor_id=instructor_id).values_list(
        "user_id", "course_id"
    )


def queue_ta_rows(instructor_id: UserId, *, student_id: UserId | None = None) -> QuerySet:
    """(user_id, name, course_id) of every active TA of the instructor's courses, by name
    (one row per course assisted in). `student_id`: only of the courses that user is
    enrolled in as a student (the staff who serve them)."""
    rows = Enrollment.objects.filter(role=EnrollmentRole.TA, course__instructor_id=instructor_id, user__is_active=True)
    if student_id is not None:
        theirs = Enrollment.objects.filter(course_id=OuterRef("course_id"), user_id=student_id)
        rows = rows.filter(Exists(theirs.filter(role=EnrollmentRole.STUDENT)))
    return rows.order_by("user__name", "user_id", "course_id").values_list("user_id", "user__name", "course_id")
