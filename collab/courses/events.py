"""Course events: names and payloads, built next to the services that send them."""

from __future__ import annotations

from collab.core.jsonframes import rest_payload
from collab.courses.models import Course, EnrollmentRole

COURSE_ENROLLED = "course-enrolled"
COURSE_UNENROLLED = "course-unenrolled"
COURSE_ROLE_CHANGED = "course-role-changed"


def course_payload(course: Course, *, role: str = "instructor") -> dict:
    """`course-enrolled`: the course as REST shows it to the recipient (CourseSerializer;
    one count query), `role` being the recipient's role in it (instructor, ta or student)."""
    from collab.courses.serializers import CourseSerializer

    course.student_count = course.enrollments.filter(role=EnrollmentRole.STUDENT).count()
    course.viewer_role = role
    return rest_payload(CourseSerializer, course)
