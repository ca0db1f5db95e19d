"""One wire format (issue 15): an object sent on the socket is the same JSON as its REST
representation, and every time on either door is ISO 8601 UTC ending in `Z`.

Each event that carries a REST object is compared here with the REST answer for the same
object: `session-new-message`, `study-group-new-message` (history items) and
`live-session-scheduled`, `session-started`, `live-session-cancelled` (`session`)."""

from __future__ import annotations

import re
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from collab.core.jsonframes import dumps, iso
from collab.realtime.testing import capture_broadcasts
from liveSessions import services as sessions
from studygroups import services as groups
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


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


def schedule(instructor, course):
    start = timezone.now() + timedelta(hours=1)
    return sessions.live_session_create(
        actor=instructor, title="T", scheduled_at=start, duration=30, course_id=course.id
    )


def test_iso_is_utc_with_z():
    moment = timezone.now()
    assert iso(moment).endswith("Z") and "+00:00" not in iso(moment)
    assert iso(None) is None


def test_session_new_message_is_the_rest_history_item(course, instructor, student, django_capture_on_commit_callbacks):
    session = schedule(instructor, course)
    sessions.live_session_start(actor=instructor, session_id=session.id)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        sessions.session_message_send(actor=student, session_id=session.id, message="hello")
    (new,) = sent.named("session-new-message")
    rest = client_for(student).get(f"/api/live-sessions/{session.id}/messages").json()["messages"][0]
    assert on_the_wire(new.data) == rest
    assert rest["sessionId"] == str(session.id)
    assert_times_end_in_z(rest)


def test_study_group_new_message_is_the_rest_history_item(course, student, django_capture_on_commit_callbacks):
    group = groups.study_group_create(actor=student, course_id=course.id, name="G")
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        groups.study_group_message_send(actor=student, group_id=group.id, body="hello")
    (new,) = sent.named("study-group-new-message")
    rest = client_for(student).get(f"/api/study-groups/{group.id}/messages").json()["messages"][0]
    assert on_the_wire(new.data) == rest
    assert rest["groupId"] == str(group.id)


def test_lifecycle_events_carry_the_rest_session(course, instructor, django_capture_on_commit_callbacks):
    api = client_for(instructor)

    def rest_session(session_id) -> dict:
        body = api.get(f"/api/live-sessions/{session_id}").json()
        body.pop("activeAttendees")
        return body

    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        session = sessions.live_session_create(
            actor=instructor,
            title="T",
            scheduled_at=timezone.now() + timedelta(hours=1),
            duration=30,
            course_id=course.id,
        )
    (scheduled,) = sent.named("live-session-scheduled")
    assert on_the_wire(scheduled.data["session"]) == rest_session(session.id)

    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        sessions.live_session_start(actor=instructor, session_id=session.id)
    started = sent.named("session-started")[0]
    assert on_the_wire(started.data["session"]) == rest_session(session.id)
    assert_times_end_in_z(on_the_wire(started.data))

    other = schedule(instructor, course)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        sessions.live_session_cancel(actor=instructor, session_id=other.id)
    (cancelled,) = sent.named("live-session-cancelled")
    assert on_the_wire(cancelled.data["session"]) == rest_session(other.id)
    assert_times_end_in_z(on_the_wire(cancelled.data))


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
