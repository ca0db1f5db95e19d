"""Who may see whose presence. The same rules serve REST and the socket."""

from __future__ import annotations

from django.db.models import Q
from rest_framework.permissions import BasePermission

from collab.accounts.models import User
from collab.courses.selectors import course_mate_ids


class PresencePermission(BasePermission):
    """Rules for presence (status, activity, lastSeenAt).

    - yourself: always visible to you, with your real choice (a chosen `offline`
      shows as `offline`, plus `connected` telling whether any lease is live).
    - a user you share a course with (enrolled or teaching): visible, as the effective
      status everyone sees (offline when not connected or invisible).
    - admins see everyone's effective status.
    - anyone else is invisible: omitted from lists, 404 `user_not_found` for a single
      look-up, and their sockets never hear about the user (presence-changed goes only
      to the course rooms of the user's courses and the user's own room).
    - changing presence (status, activity, heartbeat): only one's own; every
      authenticated user may. A course's online list needs membership (else 404).
    """

    @staticmethod
    def visible_users_q(viewer: User) -> Q:
        """A filter on User for the users `viewer` may see (a subquery, not a list)."""
        if viewer.is_admin:
            return Q()
        return Q(id=viewer.id) | Q(id__in=course_mate_ids(user_id=viewer.id))

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)
