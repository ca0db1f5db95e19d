"""What the live-session services share: the session row lock, the seat count and the
409s of a wrong state."""

from __future__ import annotations

import uuid

from collab.core.errors import Conflict, NotFound
from liveSessions.models import LiveSession, SessionAttendance, SessionStatus


def session_lock(session_id: uuid.UUID | str, **annotations) -> LiveSession:
    """The session, its row locked FOR UPDATE until the transaction ends. Every change of
    status and every join or leave takes this lock first, so status checks and seat
    counts made under it cannot race. `of=("self",)`: the nullable course join may not
    be locked on PostgreSQL, and need not be.

    `annotations` ride along in the same statement (the join's room seq: each round trip
    under the lock is a wait for the next join of the class). They are read as of the
    statement's start, not after its wait for the lock, so only what may be that old
    goes here: never a permission, the seat count or an attendance row."""
    session = (
        LiveSession.objects.select_for_update(of=("self",))
        .select_related("course", "instructor")
        .annotate(**annotations)
        .filter(id=session_id)
        .first()
    )
    if session is None:
        raise NotFound("Live session not found.", code="session_not_found")
    return session


def seats_taken(session: LiveSession) -> int:
    """Attendees present now, the host excluded (the host never takes a seat)."""
    return (
        SessionAttendance.objects.filter(session=session, present_since__isnull=False)
        .exclude(user_id=session.instructor_id)
        .count()
    )


def state_conflict(session: LiveSession, *, wanted: str) -> Conflict:
    """The 409 for a transition the current status refuses; code names what was needed."""
    return Conflict(f"The session is {session.status}; this needs it to be {wanted}.", code=f"session_not_{wanted}")


def join_conflict(session: LiveSession) -> Conflict:
    if session.status == SessionStatus.ENDED:
        return Conflict("The session has ended.", code="session_ended")
    return Conflict("The session was cancelled.", code="session_cancelled")
