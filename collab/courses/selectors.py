"""Course reads. Visibility is decided here: what a user may not see does not exist for them."""

from __future__ import annotations

import uuid

from django.db.models import Case, CharField, Count, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from collab.accounts.models import User
from collab.core.errors import NotFound
from collab.courses import membership
from collab.courses.models import Course, Enrollment, EnrollmentRole

# studentCount counts students only: TAs are staff. A subquery rather than a Count over
# joined enrollments: the join made a course read group 500 rows (and evaluate the
# viewer's role 500 times) for a class of 500, 5 ms per read of one course.
STUDENT_COUNT = Coalesce(
    Subquery(
        Enrollment.objects.filter(course_id=OuterRef("pk"), role=EnrollmentRole.STUDENT)
        .order_by()
        .values("course_id")
        .annotate(n=Count("pk"))
        .values("n")
    ),
    0,
)


def viewer_role(user_id: uuid.UUID | str) -> Case:
    """An annotation: the role of `user_id` in each course (instructor, ta, student; null
    for a non-member), the same answer as membership.course_role, in the course's query."""
    enrolled = Enrollment.objects.filter(course_id=OuterRef("pk"), user_id=user_id).values("role")[:1]
    return Case(
        When(instructor_id=user_id, then=Value("instructor")),
        default=Subquery(enrolled),
        output_field=CharField(),
    )


def course_list_for_user(*, user: User) -> QuerySet[Course]:
    # Membership is a subquery, not a join on enrollments: a filter on the joined
    # enrollments would also restrict the Count to the viewer's own row (a student
    # would see studentCount 1).
    return (
        Course.objects.filter(membership.member_q(user.id))
        .select_related("instructor")
        .annotate(student_count=STUDENT_COUNT, viewer_role=viewer_role(user.id))
        .order_by("title", "id")
    )


def course_get_visible(*, user: User, course_id: uuid.UUID | str) -> Course:
    """The course if the user is a member or an admin; NotFound otherwise."""
    course = (
        Course.objects.select_related("instructor")
        .annotate(student_count=STUDENT_COUNT, viewer_role=viewer_role(user.id))
        .filter(id=course_id)
        .first()
    )
    if course is None or not (user.is_admin or membership.is_member(user, course)):
        raise NotFound("Course not found.", code="course_not_found")
    return course


def course_members(*, course: Course, limit: int, offset: int = 0) -> list[dict]:
    """The instructor first, then enrolled users (TAs and students, each with their
    role) by name: `limit` of them from `offset` (the instructor counts as position 0);
    one query for the enrolled."""
    members = [{"user": course.instructor, "role": "instructor", "enrolled_at": None}] if offset == 0 else []
    start = max(offset - 1, 0)
    enrollments = (
        Enrollment.objects.filter(course=course)
        .select_related("user")
        .order_by("user__name", "user__id")[start : start + limit - len(members)]
    )
    members += [{"user": e.user, "role": e.role, "enrolled_at": e.enrolled_at} for e in enrollments]
    return members


def course_mate_ids(*, user_id: uuid.UUID) -> QuerySet:
    """Ids of every user sharing a course with `user_id` (a subquery, not a list)."""
    courses = Course.objects.filter(membership.member_q(user_id))
    return User.objects.filter(membership.members_of_q(courses)).values("id")


def enrollment_admitted_seq(*, user_id: uuid.UUID | str, course_id: uuid.UUID | str) -> int | None:
    """The course room's seq when the user's enrolment committed (Enrollment.admitted_seq),
    or None: not enrolled (the instructor), or enrolled before it was recorded."""
    return (
        Enrollment.objects.filter(user_id=user_id, course_id=course_id).values_list("admitted_seq", flat=True).first()
    )
