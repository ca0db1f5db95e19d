"""Who belongs to a course: the one definition every app uses.

A user *teaches* a course when they are its instructor, and is a *member* of it when
they teach it or are enrolled in it. Admins are not members; each resource's permission
class decides what admins may do on top of membership.

Each rule comes twice, with the same meaning:

- a predicate on objects already loaded (`teaches`, `is_member`), at most one query;
- a queryset expression (`teaches_q`, `enrolled_q`, `member_q`) to filter or annotate
  any model that reaches a course, so a list is checked in the same query that reads it.
  `via` is the path from the queried model to its course: `""` on Course itself,
  `"course"` on a model with a `course` foreign key, `"session__course"` further away.

A change of the enrolment rules (a role, a dropped status) is made here and nowhere else.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet

from collab.courses.models import Course, Enrollment

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


# -- predicates -------------------------------------------------------------------------


def teaches(user: User, course: Course) -> bool:
    """Whether `user` is `course`'s instructor (no query)."""
    return course.instructor_id == user.id


def is_enrolled(user_id: UserId, course_id: UserId) -> bool:
    """Whether `user_id` is enrolled in `course_id` (one query)."""
    return Enrollment.objects.filter(course_id=course_id, user_id=user_id).exists()


def is_member(user: User, course: Course) -> bool:
    """Whether `user` teaches or is enrolled in `course` (at most one query)."""
    return teaches(user, course) or is_enrolled(user.id, course.id)


# -- ids --------------------------------------------------------------------------------


def member_course_ids(user_id: UserId) -> list[uuid.UUID]:
    """The courses `user_id` is a member of: the course rooms their sockets join."""
    return list(Course.objects.filter(member_q(user_id)).values_list("id", flat=True))


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
