"""Course events: names and payloads, built next to the services that send them."""

from __future__ import annotations

from collab.courses.models import Course

COURSE_ENROLLED = "course-enrolled"
COURSE_UNENROLLED = "course-unenrolled"
COURSE_ROLE_CHANGED = "course-role-changed"


def course_payload(course: Course, *, role: str = "instructor") -> dict:
    """`role`: the recipient's role in the course (instructor, ta or student)."""
    return {
        "id": str(course.id),
        "title": course.title,
        "description": course.description,
        "instructor": {"id": str(course.instructor_id), "name": course.instructor.name},
        "role": role,
    }
