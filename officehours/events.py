"""Office-hours events: names, rooms and payload builders (camelCase, str ids, ISO times).

Privacy is decided here: the office-hours room and every student's `user-` room only
ever receive payloads built from the student's *own* entry or from counts; the full
queue (names, questions) goes to the instructor's `user-` room only.

An object that has a REST representation (the staff queue view, a slot, an
announcement) is built by its REST serializer (collab.core.jsonframes.rest_payload): the
same JSON on both doors.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from collab.core.jsonframes import iso, rest_payload

# server -> client
QUEUE_UPDATED = "office-hours-queue-updated"  # instructor: the full queue
STUDENT_LEFT = "office-hours-student-left"  # instructor: a student withdrew
POSITION_CHANGED = "office-hours-position-changed"  # a waiting student: own position/estimate
UP_NEXT = "office-hours-up-next"  # a student who just became first
ADMITTED = "office-hours-admitted"  # a student: come in (meeting url, location)
REMOVED = "office-hours-removed"  # a student: taken out of the queue, with a reason
COMPLETED = "office-hours-completed"  # a student: their meeting was marked done
OPENED = "office-hours-opened"  # room + the instructor's course rooms
CLOSED = "office-hours-closed"  # room + the instructor's course rooms
QUEUE_LENGTH = "office-hours-queue-length"  # room: how many are waiting (no names)
SCHEDULE_UPDATED = "office-hours-schedule-updated"  # room + course rooms: the active slots
ANNOUNCEMENT = "office-hours-announcement"  # room: a message from staff to everyone following
ANNOUNCEMENT_DELETED = "office-hours-announcement-deleted"  # room: staff took it back

# client -> server
JOIN_QUEUE = "join-office-hours-queue"
LEAVE_QUEUE = "leave-office-hours-queue"

REASON_ENDED = "office_hours_ended"
# The student was unenrolled and is no longer a student of any of the instructor's courses.
REASON_UNENROLLED = "unenrolled"


def office_hours_room(instructor_id: uuid.UUID | str) -> str:
    return f"office-hours-{instructor_id}"


def open_state_payload(*, instructor_id: uuid.UUID, is_open: bool, manually: bool, at: datetime) -> dict:
    return {"instructorId": str(instructor_id), "isOpen": is_open, "manual": manually, "at": iso(at)}


def position_payload(*, instructor_id: uuid.UUID, entry_id: uuid.UUID, position: int, estimate: int) -> dict:
    return {
        "instructorId": str(instructor_id),
        "entryId": str(entry_id),
        "position": position,
        "estimatedWaitMinutes": estimate,
    }


def admitted_payload(
    *, instructor_id: uuid.UUID, entry_id: uuid.UUID, meeting_url: str, location: str, admitted_by
) -> dict:
    """`admittedBy`: the staff member who is coming (the instructor or a TA); the meeting
    link and location are of that staff member's slot."""
    return {
        "instructorId": str(instructor_id),
        "entryId": str(entry_id),
        "meetingUrl": meeting_url or None,
        "location": location or None,
        "admittedBy": {"id": str(admitted_by.id), "name": admitted_by.name},
    }


def announcement_payload(announcement) -> dict:
    """The announcement as REST shows it."""
    from officehours.serializers import AnnouncementSerializer

    return rest_payload(AnnouncementSerializer, announcement)


def announcement_deleted_payload(*, instructor_id: uuid.UUID, announcement_id: uuid.UUID) -> dict:
    return {"instructorId": str(instructor_id), "id": str(announcement_id)}


def removed_payload(*, instructor_id: uuid.UUID, entry_id: uuid.UUID, reason: str) -> dict:
    return {"instructorId": str(instructor_id), "entryId": str(entry_id), "reason": reason}


def entry_ref_payload(*, instructor_id: uuid.UUID, entry_id: uuid.UUID) -> dict:
    return {"instructorId": str(instructor_id), "entryId": str(entry_id)}


def student_left_payload(*, instructor_id: uuid.UUID, entry_id: uuid.UUID, student_id, student_name: str) -> dict:
    return {
        "instructorId": str(instructor_id),
        "entryId": str(entry_id),
        "student": {"id": str(student_id), "name": student_name},
    }


def queue_length_payload(*, instructor_id: uuid.UUID, length: int) -> dict:
    return {"instructorId": str(instructor_id), "queueLength": length}


def instructor_queue_payload(view: dict) -> dict:
    """The full queue (names, questions): only ever sent to the instructor's user room."""
    from officehours.serializers import InstructorQueueSerializer

    return rest_payload(InstructorQueueSerializer, view)


def schedule_payload(*, instructor_id: uuid.UUID, slots) -> dict:
    from officehours.serializers import OfficeHoursSerializer

    return {
        "instructorId": str(instructor_id),
        "slots": [rest_payload(OfficeHoursSerializer, slot) for slot in slots],
    }
