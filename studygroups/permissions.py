"""Who may do what with a study group. The same rules serve REST and the socket."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from collab.accounts.models import User
from collab.courses.membership import is_course_staff, is_member, teaches
from collab.courses.models import Course
from studygroups.models import StudyGroup, StudyGroupMember


class StudyGroupPermission(BasePermission):
    """Rules for study groups, their members and their chat.

    - see a group, the course's group list and a group's members: members of the course
      (its enrolled students and its instructor) and site admins. To anyone else the
      group and the course do not exist (404).
    - create a group, join a group: members of the course only. Site admins see groups
      but are not course members, so they may not create or join (403).
    - leave: a group member (409 `not_a_member` for a course member who is not in it).
    - update (name, description, maxMembers): the group's admins (403 otherwise).
    - remove another member: the group's admins, site admins and staff (403 otherwise);
      the only admin goes only with a hand-over to another member (409 `last_admin`).
    - delete (deactivate): a group admin, the course's instructor or a site admin.
      Staff moderation in the Django admin deactivates through the same service.
    - read the chat, open the live room, send chat messages: group members only.
    - moderation delete of a chat message: site admins, staff, the group's admins and
      the course's staff (its instructor and TAs: collab.courses.membership).
    - everything requires an authenticated user (401 otherwise).
    """

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    @staticmethod
    def can_take_part(user: User, course: Course) -> bool:
        """Create and join groups of `course` (seeing them is the selectors' visibility)."""
        return is_member(user, course)

    @staticmethod
    def can_update(membership: StudyGroupMember | None) -> bool:
        return membership is not None and membership.is_admin

    @staticmethod
    def can_remove_member(user: User, membership: StudyGroupMember | None) -> bool:
        """Remove another member: the group's admins, site admins and staff."""
        return user.is_admin or user.is_staff or StudyGroupPermission.can_update(membership)

    @staticmethod
    def can_delete(user: User, group: StudyGroup, membership: StudyGroupMember | None) -> bool:
        return user.is_admin or teaches(user, group.course) or StudyGroupPermission.can_update(membership)

    @staticmethod
    def can_moderate_chat(user: User, group: StudyGroup, membership: StudyGroupMember | None) -> bool:
        if user.is_admin or user.is_staff or StudyGroupPermission.can_update(membership):
            return True
        return is_course_staff(user.id, group.course)
