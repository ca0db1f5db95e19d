"""Who may do what with office hours. The same rules serve REST and the socket; course
roles come from the courses core (collab.courses.membership)."""

from __future__ import annotations

import uuid

from rest_framework.permissions import BasePermission

from collab.accounts.models import User
from collab.courses import membership
from officehours.models import OfficeHours


class OfficeHoursPermission(BasePermission):
    """Rules for office-hours slots and an instructor's queue.

    - see an instructor's schedule and whether their queue is open: any signed-in user
      (inactive slots only to the queue's staff and admins).
    - create a slot: the instructor for themselves (users with the instructor role), and
      the TAs of the instructor's courses, as the slot's staff member, in that schedule.
    - change or delete a slot: the instructor, admins, and the TA who holds it.
    - **serve** a queue (full view with names and questions, admit, complete, remove,
      requeue, announcements, stats): the queue's instructor, admins, and the TAs of the
      instructor's courses, a TA for the students of the courses they assist in only
      (`serve_scope`); another course's entries do not exist for them (404).
    - **own** a queue (open, close, clear, the fairness rules): the instructor and admins.
    - join a queue, see one's own entry, leave: an *eligible* student, i.e. a user
      enrolled as a student in a course the instructor teaches (never the instructor).
    - subscribe to the queue's room (socket `join-office-hours-queue`): staff and
      eligible students. The room only ever carries frames without student data.
    Everyone else gets 403 on a queue (instructors are public, so the queue's existence is
    not hidden) and 404 on a queue entry that is neither theirs nor one they serve.
    """

    @staticmethod
    def can_create_slot(user: User, instructor_id: uuid.UUID) -> bool:
        if not user.is_authenticated:
            return False
        if user.id == instructor_id:
            return bool(user.is_instructor)
        return membership.is_queue_staff(user.id, instructor_id)

    @staticmethod
    def can_change_slot(user: User, slot: OfficeHours) -> bool:
        if not user.is_authenticated:
            return False
        if user.is_admin or slot.instructor_id == user.id:
            return True
        return slot.staff_id == user.id and membership.is_queue_staff(user.id, slot.instructor_id)

    @staticmethod
    def can_own(user: User, instructor_id: uuid.UUID) -> bool:
        return bool(user.is_authenticated and (user.is_admin or user.id == instructor_id))

    @classmethod
    def can_serve(cls, user: User, instructor_id: uuid.UUID) -> bool:
        return cls.can_own(user, instructor_id) or (
            user.is_authenticated and membership.is_queue_staff(user.id, instructor_id)
        )

    @classmethod
    def serve_scope(cls, user: User, instructor_id: uuid.UUID) -> list[uuid.UUID] | None:
        """None: every entry of the queue (the instructor, admins). A list: the courses
        whose students the TA serves (empty: not staff at all)."""
        if cls.can_own(user, instructor_id):
            return None
        return membership.queue_staff_course_ids(user.id, instructor_id)

    @staticmethod
    def can_queue(user: User, instructor_id: uuid.UUID) -> bool:
        if not user.is_authenticated:
            return False
        return membership.is_course_student_of_instructor(user.id, instructor_id)

    @classmethod
    def can_subscribe(cls, user: User, instructor_id: uuid.UUID) -> bool:
        return cls.can_serve(user, instructor_id) or cls.can_queue(user, instructor_id)

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)
