"""Room (Channels group) names. Every app builds its room names here or in its events."""

from __future__ import annotations

import uuid


def user_room(user_id: uuid.UUID | str) -> str:
    return f"user-{user_id}"


def course_room(course_id: uuid.UUID | str) -> str:
    return f"course-{course_id}"


def signin_room(session_id: str) -> str:
    """Every socket opened with the credentials of one signed-in session (the `sid`
    claim): logging that session out closes exactly these."""
    return f"signin-{session_id}"
