"""Who may do what with office hours. The same rules serve REST and the socket."""

from __future__ import annotations

import uuid

from rest_framework.permissions import BasePermission

from collab.accounts.models import User
from collab.courses.membership import enrolled_q, teaches_q
from collab.courses.models import Course


class OfficeHoursPermission(BasePermission):
    """Rules for office-hours slots and an instructor's queue.

    - see an instructor's schedule and whether their queue is open: any signed-in user
      (inactive slots only to the owner and admins).
    - create a slot: users with the instructor role, for themselves.
    - change or delete a slot: its instructor and admins.
    - manage a queue (full view with names and questions, admit, complete, remove,
      requeue, open, close, clear): the queue's instructor and admins.
    - join a queue, see one's own entry, leave: an *eligible* student, i.e. a user
      enrolled in a course the instructor teaches (never the instructor themself).
    - subscribe to the queue's room (socket `join-office-hours-queue`): managers and
      eligible students. The room only ever carries frames without student data.
    Everyone else gets 403 on a queue (instructors are public, so the queue's existence is
    not hidden) and 404 on a queue entry that is neither theirs nor one they manage.
    """

    @staticmethod
    def can_create_slot(user: User) -> bool:
        return bool(user.is_authenticated and user.is_instructor)

    @staticmethod
    def can_manage(user: User, instructor_id: uuid.UUID) -> bool:
        return bool(user.is_authenticated and (user.is_admin or user.id == instructor_id))

    @staticmethod
    def can_queue(user: User, instructor_id: uuid.UUID) -> bool:
        if not user.is_authenticated or user.id == instructor_id:
            return False
        return Course.objects.filter(teaches_q(instructor_id), enrolled_q(user.id)).exists()

    @classmethod
    def can_subscribe(cls, user: User, instructor_id: uuid.UUID) -> bool:
        return cls.can_manage(user, instructor_id) or cls.can_queue(user, instructor_id)

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)
