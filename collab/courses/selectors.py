"""Course reads. Visibility is decided here: what a user may not see does not exist for them."""

from __future__ import annotations

import uuid

from django.db.models import Count, Q, QuerySet

from collab.accounts.models import User
from collab.core.errors import NotFound
from collab.courses.models import Course, Enrollment


def course_ids_for_user(*, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Courses a user teaches or is enrolled in: the course rooms their sockets join.

    Both sides drop their models' default ordering: SQLite (the embedded default) refuses
    ORDER BY inside a compound statement, and a set has no order anyway."""
    taught = Course.objects.filter(instructor_id=user_id).order_by().values_list("id", flat=True)
    enrolled = Enrollment.objects.filter(user_id=user_id).order_by().values_list("course_id", flat=True)
    return list(taught.union(enrolled))


def course_list_for_user(*, user: User) -> QuerySet[Course]:
    # Membership is a subquery, not a join on enrollments: a filter on the joined
    # enrollments would also restrict the Count to the viewer's own row (a student
    # would see studentCount 1).
    enrolled = Enrollment.objects.filter(user=user).values("course_id")
    return (
        Course.objects.filter(Q(instructor=user) | Q(id__in=enrolled))
        .select_related("instructor")
        .annotate(student_count=Count("enrollments"))
        .order_by("title", "id")
    )


def is_course_member(*, user: User, course: Course) -> bool:
    if course.instructor_id == user.id:
        return True
    return Enrollment.objects.filter(course=course, user=user).exists()


def course_get_visible(*, user: User, course_id: uuid.UUID | str) -> Course:
    """The course if the user is a member or an admin; NotFound otherwise."""
    course = (
        Course.objects.select_related("instructor")
        .annotate(student_count=Count("enrollments"))
        .filter(id=course_id)
        .first()
    )
    if course is None or not (user.is_admin or is_course_member(user=user, course=course)):
        raise NotFound("Course not found.", code="course_not_found")
    return course


def course_members(*, course: Course, limit: int, offset: int = 0) -> list[dict]:
    """The instructor first, then enrolled users by name: `limit` of them from `offset`
    (the instructor counts as position 0); one query for the students."""
    members = [{"user": course.instructor, "role": "instructor", "enrolled_at": None}] if offset == 0 else []
    start = max(offset - 1, 0)
    enrollments = (
        Enrollment.objects.filter(course=course)
        .select_related("user")
        .order_by("user__name", "user__id")[start : start + limit - len(members)]
    )
    members += [{"user": e.user, "role": "student", "enrolled_at": e.enrolled_at} for e in enrollments]
    return members


def users_share_course(*, user_id: uuid.UUID, other_id: uuid.UUID) -> bool:
    if user_id == other_id:
        return True
    mine = set(course_ids_for_user(user_id=user_id))
    return any(course_id in mine for course_id in course_ids_for_user(user_id=other_id))


def course_mate_ids(*, user_id: uuid.UUID) -> QuerySet:
    """Ids of every user sharing a course with `user_id` (a subquery, not a list)."""
    course_ids = Course.objects.filter(Q(instructor_id=user_id) | Q(enrollments__user_id=user_id)).values("id")
    students = Enrollment.objects.filter(course_id__in=course_ids).values("user_id")
    instructors = Course.objects.filter(id__in=course_ids).values("instructor_id")
    return User.objects.filter(Q(id__in=students) | Q(id__in=instructors)).values("id")
