"""Who may do what with a live session. The same rules serve REST and the socket."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from collab.accounts.models import User
from collab.courses import membership
from collab.courses.models import Course
from liveSessions.models import LiveSession


class LiveSessionPermission(BasePermission):
    """Rules for live sessions, their attendance and their chat.

    - join (and so: see the session, its attendees and its chat history, join and leave,
      enter the socket room, chat and type): for an open session (no course) any
      signed-in user; for a course session the course's instructor, its enrolled users,
      the session's own instructor, and admins. Anyone else gets 404: a session they may
      not join does not exist for them.
    - create: instructors only; for a course, only that course's instructor (an admin
      is not an instructor and gets 403).
    - manage (start, end, cancel): the session's instructor (the owner) only; others who
      can see the session get 403. Staff end or cancel from the Django admin, and beat
      auto-ends, through the same services.
    - attendance report, deleting chat messages (moderation): the owner, admins, and the
      staff of the session's course (its instructor and TAs: collab.courses.membership).
      TAs do not create, start, end or cancel sessions.
    - the owner never takes a seat: capacity counts everyone else, so a full session
      never locks out its own host.
    """

    @classmethod
    def can_join(cls, user: User, session: LiveSession) -> bool:
        return user.is_authenticated and user.id in cls.joinable([user], session)

    @staticmethod
    def joinable(users: list[User], session: LiveSession) -> set:
        """The ids of the signed-in `users` who may join `session`: `can_join` for many at
        once (at most one query), so a batch of joins is checked as each would be alone."""
        allowed = set()
        others = []
        for user in users:
            if not user.is_authenticated:
                continue
            if user.is_admin or session.course_id is None or session.instructor_id == user.id:
                allowed.add(user.id)
            else:
                others.append(user.id)
        if others:
            allowed |= membership.members_among(session.course, others)
        return allowed

    @staticmethod
    def can_create(user: User, course: Course | None) -> bool:
        if not (user.is_authenticated and user.is_instructor):
            return False
        return course is None or membership.teaches(user, course)

    @staticmethod
    def can_manage(user: User, session: LiveSession) -> bool:
        return user.is_authenticated and session.instructor_id == user.id

    @staticmethod
    def is_session_staff(user: User, session: LiveSession) -> bool:
        """The owner, admins, or staff of the session's course."""
        if not user.is_authenticated:
            return False
        if user.is_admin or session.instructor_id == user.id:
            return True
        return session.course_id is not None and membership.is_course_staff_id(user.id, session.course_id)

    @classmethod
    def can_see_report(cls, user: User, session: LiveSession) -> bool:
        return cls.is_session_staff(user, session)

    @classmethod
    def can_moderate(cls, user: User, session: LiveSession) -> bool:
        return cls.is_session_staff(user, session)

    @staticmethod
    def takes_seat(user_id, session: LiveSession) -> bool:
        return user_id != session.instructor_id

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)
