"""One wire format (issue 15): an object sent on the socket is the same JSON as its REST
representation, and every time on either door is ISO 8601 UTC ending in `Z`.

`test_the_object_an_event_carries_is_its_rest_representation` runs once per server event
that carries an object with a REST representation: the object in the frame (through
the frame encoder) must equal the REST answer for the same object, read right after.
The cases live in tests/core/wire_cases.py. `test_every_server_event_is_classified` keeps
the list complete: an event an app adds is either compared there or named in
NO_REST_OBJECT here with the reason."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from django.utils import timezone

from collab.core.jsonframes import dumps, iso
from collab.realtime.dispatch import registered_events
from collab.realtime.testing import capture_broadcasts
from liveSessions import services as sessions
from studygroups import services as groups
from tests.core.wire_cases import CASES
from tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db

ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
ROOT = Path(__file__).resolve().parents[2]
EVENT_MODULES = [
    "collab/courses/events.py",
    "liveSessions/events.py",
    "officehours/events.py",
    "presence/events.py",
    "studygroups/events.py",
]
EVENT_NAME = re.compile(r'^[A-Z_]+ = "((?:[a-z]+-)+[a-z]+)"', re.MULTILINE)


def on_the_wire(data) -> object:
    """What a socket client reads: the payload through the frame encoder."""
    return orjson.loads(dumps(data))


def times_in(value) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in times_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in times_in(v)]
    return [value] if isinstance(value, str) and ISO_TIME.match(value) else []


def assert_times_end_in_z(payload) -> None:
    for text in times_in(payload):
        assert text.endswith("Z"), text


# Server events that carry no object with a REST representation, and why.
NO_REST_OBJECT = {
    # Ids and counts only: what changed, not an object.
    "course-unenrolled": "ids",
    "course-role-changed": "ids and the new role",
    "live-session-starting-soon": "a reminder: ids, title, times",
    "session-ending-soon": "a reminder: ids, times",
    "session-ended": "ids, endedAt, recordingUrl (the REST session is read after)",
    "session-message-deleted": "ids of a message no longer in REST",
    "study-group-message-deleted": "ids of a message no longer in REST",
    "study-group-deleted": "ids and who: the group is no longer in REST",
    "study-group-member-left": "a member no longer in REST (built by its REST serializer as they were)",
    "office-hours-announcement-deleted": "ids of an announcement no longer in REST",
    "office-hours-queue-length": "a count",
    "office-hours-opened": "the open state: ids, manual, at",
    "office-hours-closed": "the open state: ids, manual, at",
    # Changes of who is in a room (per socket or per seat), coalesced in large rooms.
    "session-participant-joined": "a socket entered the room: userId, name",
    "session-participant-left": "a socket left the room: userId, name",
    "session-participants-batch": (
        "coalesced joins and leaves of a large room: userId and name only, to keep a class-start"
        " storm cheap; a client marks those users present or absent and reads a new attendee's"
        " full item over REST (docs/protocol/liveSessions.md)"
    ),
    "study-group-participant-joined": "a socket entered the room: userId, name",
    "study-group-participant-left": "a socket left the room: userId, name",
    "session-user-typing": "typing state: ids, name",
    "session-user-stop-typing": "typing state: ids, name",
    # A student's own place in the queue, told to them alone.
    "office-hours-student-left": "to staff: ids and the student who withdrew",
    "office-hours-position-changed": "position and estimate of one's own entry",
    "office-hours-up-next": "ids",
    "office-hours-admitted": "who is coming and where: ids, admittedBy, meetingUrl, location",
    "office-hours-removed": "ids and the reason",
    "office-hours-completed": "ids",
}


@pytest.fixture
def w(course, instructor, student, other_student, settings, django_capture_on_commit_callbacks):
    """The world of a case; `w.send(do, event)` runs `do`, then its on-commit work, and
    returns the `event` broadcasts sent."""
    EnrollmentFactory(course=course, user=other_student)

    def send(do, event: str):
        with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
            do()
        return sent.named(event)

    return SimpleNamespace(
        course=course,
        instructor=instructor,
        student=student,
        other_student=other_student,
        settings=settings,
        send=send,
        on_commit=django_capture_on_commit_callbacks,
    )


@pytest.mark.parametrize("event", sorted(CASES))
def test_the_object_an_event_carries_is_its_rest_representation(event, w):
    on_socket, on_rest = CASES[event](w)
    assert on_the_wire(on_socket) == on_rest
    assert_times_end_in_z(on_rest)


def test_every_server_event_is_classified():
    defined = {name for module in EVENT_MODULES for name in EVENT_NAME.findall((ROOT / module).read_text())}
    server_events = defined - set(registered_events())
    unclassified = server_events - set(CASES) - set(NO_REST_OBJECT)
    assert not unclassified, f"compare these with REST above, or say why they carry no REST object: {unclassified}"
    assert not set(CASES) & set(NO_REST_OBJECT)
    assert not (set(CASES) | set(NO_REST_OBJECT)) - server_events, "classified names that are no server event"


def test_iso_is_utc_with_z():
    moment = timezone.now()
    assert iso(moment).endswith("Z") and "+00:00" not in iso(moment)
    assert iso(None) is None


def test_every_time_in_the_frames_of_a_class_ends_in_z(course, instructor, student, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        session = sessions.live_session_create(
            actor=instructor,
            title="T",
            scheduled_at=timezone.now() + timedelta(hours=1),
            duration=30,
            course_id=course.id,
        )
        sessions.live_session_start(actor=instructor, session_id=session.id)
        sessions.attendance_join(actor=student, session_id=session.id)
        sessions.session_message_send(actor=student, session_id=session.id, message="hi")
        sessions.live_session_end(actor=instructor, session_id=session.id)
        group = groups.study_group_create(actor=student, course_id=course.id, name="G")
        groups.study_group_message_send(actor=student, group_id=group.id, body="hi")
    assert len(sent) >= 8
    for broadcast in sent:
        assert_times_end_in_z(on_the_wire(broadcast.data))
