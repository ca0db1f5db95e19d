"""Who may do what with a course. The same rules serve REST and the socket."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from collab.accounts.models import User
from collab.courses.models import Course


class CoursePermission(BasePermission):
    """Rules for courses and their enrollments.

    - view a course, its members and what hangs off it: its instructor, its enrolled
      users, and admins. Anyone else gets 404 (a course's existence is not shown).
    - create a course: instructors and admins.
    - enroll or unenroll users, change a member's role (student | ta): the course's
      instructor and admins. TAs are course staff (collab.courses.membership) but may
      not change the course or its enrolments (403 not_course_instructor).
    """

    # Shown when has_permission refuses (only course creation is refused here).
    message = "Only instructors can create courses."
    code = "not_instructor"

    @staticmethod
    def can_create(user: User) -> bool:
        return user.is_authenticated and (user.is_instructor or user.is_admin)

    @staticmethod
    def can_manage(user: User, course: Course) -> bool:
        return user.is_admin or course.instructor_id == user.id

    def has_permission(self, request, view) -> bool:
        if request.method == "POST" and getattr(view, "action", None) == "create":
            return self.can_create(request.user)
        return bool(request.user and request.user.is_authenticated)
