"""Course membership predicates: who belongs to a course and in which role.

Every app decides "may this user ..." from these, in Python (one object at hand) or as a
queryset expression (lists, subqueries), so REST permissions and socket handlers share
one rule. Site admins are not course members; the apps' permission classes add them.

- **staff of a course**: its instructor, or a user enrolled with role `ta`.
- **student of a course**: a user enrolled with role `student`.
- **staff of an instructor's queue** (office hours are per instructor): staff of any
  course that instructor teaches; a TA serves only the students of the courses they
  assist in (`queue_staff_course_ids`).
"""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, Q, QuerySet

from collab.courses.models import Course, Enrollment, EnrollmentRole


def staff_courses_q(user_id: uuid.UUID) -> Q:
    """A filter on Course: the courses `user_id` is staff of (teaches or assists in)."""
    assisted = Enrollment.objects.filter(user_id=user_id, role=EnrollmentRole.TA).values("course_id")
    return Q(instructor_id=user_id) | Q(id__in=assisted)


def is_course_staff(user_id: uuid.UUID, course: Course) -> bool:
    """THE rule "is staff of this course": its instructor or one of its TAs."""
    if course.instructor_id == user_id:
        return True
    return Enrollment.objects.filter(course_id=course.id, user_id=user_id, role=EnrollmentRole.TA).exists()


def is_course_staff_id(user_id: uuid.UUID, course_id: uuid.UUID) -> bool:
    """`is_course_staff` when only the course's id is at hand (one query)."""
    return Course.objects.filter(staff_courses_q(user_id), id=course_id).exists()


def course_staff_ids(course_id: uuid.UUID) -> list[uuid.UUID]:
    """The instructor first, then the TAs of a course (one query)."""
    course = Course.objects.filter(id=course_id).values_list("instructor_id", flat=True).first()
    if course is None:
        return []
    tas = Enrollment.objects.filter(course_id=course_id, role=EnrollmentRole.TA).values_list("user_id", flat=True)
    return [course, *tas]


def course_members_and_staff(course_id: uuid.UUID, instructor_id: uuid.UUID) -> tuple[list[uuid.UUID], set[uuid.UUID]]:
    """Every member of a course (its enrolled users, then its instructor) and, among
    them, its staff (the instructor and the TAs): one query."""
    rows = list(Enrollment.objects.filter(course_id=course_id).values_list("user_id", "role"))
    members = [user_id for user_id, _ in rows] + [instructor_id]
    staff = {user_id for user_id, role in rows if role == EnrollmentRole.TA} | {instructor_id}
    return members, staff


def course_role(user_id: uuid.UUID, course: Course) -> str | None:
    """`instructor`, `ta`, `student`, or None for a non-member."""
    if course.instructor_id == user_id:
        return "instructor"
    return Enrollment.objects.filter(course_id=course.id, user_id=user_id).values_list("role", flat=True).first()


def is_course_student_of_instructor(user_id: uuid.UUID, instructor_id: uuid.UUID) -> bool:
    """Enrolled as a student in some course `instructor_id` teaches (office-hours eligibility)."""
    if user_id == instructor_id:
        return False
    return Enrollment.objects.filter(
        user_id=user_id, course__instructor_id=instructor_id, role=EnrollmentRole.STUDENT
    ).exists()


def queue_staff_course_ids(user_id: uuid.UUID, instructor_id: uuid.UUID) -> list[uuid.UUID]:
    """The courses of `instructor_id` that `user_id` is staff of (all of them for the
    instructor, the assisted ones for a TA, none for anyone else); one query."""
    return list(
        Course.objects.filter(staff_courses_q(user_id), instructor_id=instructor_id).values_list("id", flat=True)
    )


def is_queue_staff(user_id: uuid.UUID, instructor_id: uuid.UUID) -> bool:
    """Staff of at least one course the instructor teaches (the instructor included)."""
    if user_id == instructor_id:
        return True
    return Enrollment.objects.filter(
        user_id=user_id, role=EnrollmentRole.TA, course__instructor_id=instructor_id
    ).exists()


def student_in_courses(course_ids, student_field: str = "student_id") -> Exists:
    """An expression for a queryset whose rows have a `student_field`: that user is
    enrolled as a student in one of `course_ids` (a TA's share of a queue)."""
    return Exists(
        Enrollment.objects.filter(
            course_id__in=course_ids, role=EnrollmentRole.STUDENT, user_id=OuterRef(student_field)
        )
    )


def queue_ta_ids(instructor_id: uuid.UUID) -> QuerySet:
    """(user_id, course_id) of every TA of the instructor's courses."""
    return Enrollment.objects.filter(role=EnrollmentRole.TA, course__instructor_id=instructor_id).values_list(
        "user_id", "course_id"
    )
