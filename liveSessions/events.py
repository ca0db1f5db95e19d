"""Live-session event names, room names and payload builders (camelCase, str ids, ISO times)."""

from __future__ import annotations

import uuid
from datetime import datetime

from collab.accounts.models import User
from collab.core.jsonframes import iso, rest_payload
from liveSessions.models import LiveSession

# server -> client
SESSION_SCHEDULED = "live-session-scheduled"
SESSION_STARTING_SOON = "live-session-starting-soon"
SESSION_STARTED = "session-started"
SESSION_ENDING_SOON = "session-ending-soon"
SESSION_ENDED = "session-ended"
SESSION_CANCELLED = "live-session-cancelled"
ATTENDEE_JOINED = "attendee-joined"
ATTENDEE_LEFT = "attendee-left"
PARTICIPANT_JOINED = "session-participant-joined"
PARTICIPANT_LEFT = "session-participant-left"
PARTICIPANTS_BATCH = "session-participants-batch"
NEW_MESSAGE = "session-new-message"
MESSAGE_DELETED = "session-message-deleted"
USER_TYPING = "session-user-typing"
USER_STOP_TYPING = "session-user-stop-typing"

# client -> server
JOIN = "join-live-session"
LEAVE = "leave-live-session"
MESSAGE = "session-message"
TYPING_START = "session-typing-start"
TYPING_STOP = "session-typing-stop"


def session_room(session_id: uuid.UUID | str) -> str:
    return f"session-{session_id}"


def session_id_from_room(room: str) -> str | None:
    """The session id of a `session-<id>` room name; None for any other room."""
    return room.removeprefix("session-") if room.startswith("session-") else None


def session_payload(session: LiveSession) -> dict:
    """The session as REST shows it (LiveSessionEventSerializer: without activeAttendees)."""
    from liveSessions.serializers import LiveSessionEventSerializer

    return rest_payload(LiveSessionEventSerializer, session)


def lifecycle_payload(session: LiveSession, **extra) -> dict:
    """scheduled / started / cancelled: ids first, then the whole session."""
    return {
        "sessionId": str(session.id),
        "courseId": str(session.course_id) if session.course_id else None,
        **extra,
        "session": session_payload(session),
    }


def ended_payload(session: LiveSession) -> dict:
    return {
        "sessionId": str(session.id),
        "courseId": str(session.course_id) if session.course_id else None,
        "endedAt": iso(session.ended_at),
        "recordingUrl": session.recording_url or None,
    }


def starting_soon_payload(session: LiveSession, *, minutes: int) -> dict:
    return {
        "sessionId": str(session.id),
        "courseId": str(session.course_id) if session.course_id else None,
        "title": session.title,
        "scheduledAt": iso(session.scheduled_at),
        "minutesUntilStart": minutes,
    }


def ending_soon_payload(session: LiveSession, *, ends_at: datetime, minutes: int) -> dict:
    return {"sessionId": str(session.id), "autoEndAt": iso(ends_at), "minutesLeft": minutes}


def attendee_row(session: LiveSession, attendance, user: User | None = None) -> dict:
    """One attendance as an item of the REST attendee list (AttendeeSerializer's input):
    the view lists these, attendee-joined/left carry one. `user`: the attendance's user
    when the caller has it at hand (spares a query)."""
    user = user if user is not None else attendance.user
    return {
        "user_id": attendance.user_id,
        "name": user.name if user else "Deleted user",
        "role": user.role if user else "",
        "is_host": attendance.user_id == session.instructor_id,
        "present": attendance.present_since is not None,
        "present_since": attendance.present_since,
        "first_joined_at": attendance.first_joined_at,
        "last_left_at": attendance.last_left_at,
    }


def attendee_payload(session_id: uuid.UUID, row: dict, *, active_attendees: int) -> dict:
    """attendee-joined / attendee-left: ids and the seat count, and `attendee`, the item of
    `GET /api/live-sessions/:id/attendees` as it is after the change (`row`, an
    attendee_row; same serializer), so a client updates its attendee list from the frame
    alone, without reloading it."""
    from liveSessions.serializers import AttendeeSerializer

    return {
        "sessionId": str(session_id),
        "userId": str(row["user_id"]),
        "name": row["name"],
        "activeAttendees": active_attendees,
        "attendee": rest_payload(AttendeeSerializer, row),
    }


def participant_payload(session_id: uuid.UUID | str, user: User) -> dict:
    return {"sessionId": str(session_id), "userId": str(user.id), "name": user.name}


def message_deleted_payload(session_id: uuid.UUID, message_id: uuid.UUID) -> dict:
    return {"id": str(message_id), "sessionId": str(session_id)}


def participants_batch_payload(room: str, changes: list[dict]) -> dict:
    """Coalesced joins and leaves of a large room (liveSessions.announce). `changes`:
    {userId, name, state: "joined"/"left", activeAttendees, at}, one per user."""
    changes = sorted(changes, key=lambda change: change["at"])
    return {
        "sessionId": room.removeprefix("session-"),
        "activeAttendees": changes[-1]["activeAttendees"] if changes else None,
        "joined": [{"userId": c["userId"], "name": c["name"]} for c in changes if c["state"] == "joined"],
        "left": [{"userId": c["userId"], "name": c["name"]} for c in changes if c["state"] == "left"],
    }
