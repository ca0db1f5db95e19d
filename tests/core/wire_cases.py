"""The cases of tests/core/test_wire_format.py, one per server event that carries an object
with a REST representation: each builds the event in a world `w` and returns (the object
as the socket sent it, the same object read from REST right after). `@case(event)`
registers a builder in CASES."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

from django.utils import timezone

from collab.courses import services as courses
from collab.realtime.testing import capture_broadcasts
from liveSessions import services as sessions
from officehours import services as officehours
from presence import services as presence
from studygroups import services as groups
from tests.conftest import client_for
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory


def rest(user, path: str):
    response = client_for(user).get(path)
    assert response.status_code == 200, (path, response.content)
    return response.json()


def without(payload: dict, *keys: str) -> dict:
    return {key: value for key, value in payload.items() if key not in keys}


def schedule(instructor, course):
    start = timezone.now() + timedelta(hours=1)
    return sessions.live_session_create(
        actor=instructor, title="T", scheduled_at=start, duration=30, course_id=course.id
    )


# -- one case per event: (the object as the socket sent it, the same object from REST) -----

Case = Callable[[SimpleNamespace], tuple[object, object]]
CASES: dict[str, Case] = {}


def case(event: str):
    def register(build: Case) -> Case:
        CASES[event] = build
        return build

    return register


@case("session-new-message")
def _session_new_message(w):
    session = schedule(w.instructor, w.course)
    sessions.live_session_start(actor=w.instructor, session_id=session.id)
    (new,) = w.send(
        lambda: sessions.session_message_send(actor=w.student, session_id=session.id, message="hi"),
        "session-new-message",
    )
    return new.data, rest(w.student, f"/api/live-sessions/{session.id}/messages")["messages"][0]


def _rest_session(w, session_id) -> dict:
    # activeAttendees changes with every join: REST only (LiveSessionEventSerializer).
    return without(rest(w.instructor, f"/api/live-sessions/{session_id}"), "activeAttendees")


@case("live-session-scheduled")
def _live_session_scheduled(w):
    (scheduled,) = w.send(lambda: schedule(w.instructor, w.course), "live-session-scheduled")
    return scheduled.data["session"], _rest_session(w, scheduled.data["sessionId"])


@case("session-started")
def _session_started(w):
    session = schedule(w.instructor, w.course)
    start = lambda: sessions.live_session_start(actor=w.instructor, session_id=session.id)  # noqa: E731
    started = w.send(start, "session-started")[0]
    return started.data["session"], _rest_session(w, session.id)


@case("live-session-cancelled")
def _live_session_cancelled(w):
    session = schedule(w.instructor, w.course)
    (cancelled,) = w.send(
        lambda: sessions.live_session_cancel(actor=w.instructor, session_id=session.id), "live-session-cancelled"
    )
    return cancelled.data["session"], _rest_session(w, session.id)


def _rest_attendee(w, session_id, user) -> dict:
    """The attendee list's item for `user`, with the list's seat count."""
    listing = rest(w.instructor, f"/api/live-sessions/{session_id}/attendees")
    item = next(item for item in listing["attendees"] if item["userId"] == str(user.id))
    return {"activeAttendees": listing["activeAttendees"], "attendee": item}


def _attendee_frame(frame, session, user) -> object:
    """The ids of an attendee frame are the attendee's; its `attendee` item and seat count
    are compared with REST's."""
    assert without(frame.data, "attendee", "activeAttendees") == {
        "sessionId": str(session.id),
        "userId": str(user.id),
        "name": user.name,
    }
    return {"activeAttendees": frame.data["activeAttendees"], "attendee": frame.data["attendee"]}


@case("attendee-joined")
def _attendee_joined(w):
    """The REST attendee list item after the join: a client adds it to its list as is."""
    session = schedule(w.instructor, w.course)
    sessions.live_session_start(actor=w.instructor, session_id=session.id)
    (joined,) = w.send(lambda: sessions.attendance_join(actor=w.student, session_id=session.id), "attendee-joined")
    return _attendee_frame(joined, session, w.student), _rest_attendee(w, session.id, w.student)


@case("attendee-left")
def _attendee_left(w):
    """The item after the leave (present false, lastLeftAt set): the list keeps it, updated."""
    session = schedule(w.instructor, w.course)
    sessions.live_session_start(actor=w.instructor, session_id=session.id)
    sessions.attendance_join(actor=w.student, session_id=session.id)
    (left,) = w.send(lambda: sessions.attendance_leave(actor=w.student, session_id=session.id), "attendee-left")
    return _attendee_frame(left, session, w.student), _rest_attendee(w, session.id, w.student)


def _group(w):
    return groups.study_group_create(actor=w.student, course_id=w.course.id, name="G", max_members=3)


@case("study-group-new-message")
def _study_group_new_message(w):
    group = _group(w)
    (new,) = w.send(
        lambda: groups.study_group_message_send(actor=w.student, group_id=group.id, body="hi"),
        "study-group-new-message",
    )
    return new.data, rest(w.student, f"/api/study-groups/{group.id}/messages")["messages"][0]


def _rest_group(w, group_id) -> dict:
    # Per-user fields are REST only: the socket payload goes to the whole course.
    return without(rest(w.other_student, f"/api/study-groups/{group_id}"), "isMember", "myRole")


@case("study-group-created")
def _study_group_created(w):
    (created,) = w.send(lambda: _group(w), "study-group-created")
    return created.data, _rest_group(w, created.data["id"])


@case("study-group-updated")
def _study_group_updated(w):
    group = _group(w)
    updated = w.send(
        lambda: groups.study_group_update(actor=w.student, group_id=group.id, description="New"),
        "study-group-updated",
    )
    assert {frame.room for frame in updated} == {f"course-{w.course.id}", f"study-group-{group.id}"}
    return updated[0].data, _rest_group(w, group.id)


def _rest_member(w, group_id, user_id) -> dict:
    members = rest(w.student, f"/api/study-groups/{group_id}/members")
    return next(member for member in members if member["userId"] == str(user_id))


@case("study-group-member-joined")
def _study_group_member_joined(w):
    group = _group(w)
    joined = w.send(
        lambda: groups.study_group_join(actor=w.other_student, group_id=group.id), "study-group-member-joined"
    )[0]
    return without(joined.data, "groupId", "courseId", "memberCount"), _rest_member(w, group.id, w.other_student.id)


@case("study-group-admin-changed")
def _study_group_admin_changed(w):
    group = _group(w)
    groups.study_group_join(actor=w.other_student, group_id=group.id)
    leave = lambda: groups.study_group_leave(actor=w.student, group_id=group.id)  # noqa: E731
    (changed,) = w.send(leave, "study-group-admin-changed")
    members = rest(w.other_student, f"/api/study-groups/{group.id}/members")
    return without(changed.data, "groupId"), members[0]


@case("presence-changed")
def _presence_changed(w):
    """Others' view in the course room, the user's own view in their user room."""
    presence.presence_heartbeat(user_id=w.student.id)
    sent = w.send(
        lambda: presence.presence_update(user=w.student, status="busy", activity="Reading"), "presence-changed"
    )
    by_room = {frame.room: frame.data for frame in sent}
    others = rest(w.other_student, f"/api/presence/user/{w.student.id}")
    own = rest(w.student, f"/api/presence/user/{w.student.id}")
    return (
        [by_room[f"course-{w.course.id}"], by_room[f"user-{w.student.id}"]],
        [others, own],
    )


@case("presence-batch")
def _presence_batch(w):
    """Three course-mates turn online at once: the first goes alone, the two that waited
    for the fan-out window travel as one presence-batch."""
    w.settings.PRESENCE_BROADCAST_WINDOW = 0.3
    mates = [UserFactory() for _ in range(3)]
    for mate in mates:
        EnrollmentFactory(course=w.course, user=mate)
    with capture_broadcasts() as sent:
        for mate in mates:
            with w.on_commit(execute=True):
                presence.presence_heartbeat(user_id=mate.id)
        deadline = time.monotonic() + 10
        while not sent.named("presence-batch") and time.monotonic() < deadline:
            time.sleep(0.05)
    (batch,) = sent.named("presence-batch")
    items = sorted(batch.data["users"], key=lambda item: item["userId"])
    assert len(items) == 2
    return items, [rest(w.other_student, f"/api/presence/user/{item['userId']}") for item in items]


@case("office-hours-queue-updated")
def _office_hours_queue_updated(w):
    officehours.queue_open(actor=w.instructor, instructor_id=w.instructor.id)
    sent = w.send(
        lambda: officehours.queue_join(actor=w.student, instructor_id=w.instructor.id, question="Why?"),
        "office-hours-queue-updated",
    )
    updated = [frame for frame in sent if frame.room == f"user-{w.instructor.id}"][-1]
    return updated.data, rest(w.instructor, f"/api/office-hours/queue/{w.instructor.id}")


@case("office-hours-schedule-updated")
def _office_hours_schedule_updated(w):
    create = lambda: officehours.office_hours_create(  # noqa: E731
        actor=w.instructor, day_of_week=2, start_time="09:00", end_time="10:30", meeting_url=""
    )
    updated = w.send(create, "office-hours-schedule-updated")[0]
    schedule_ = rest(w.student, f"/api/office-hours/instructor/{w.instructor.id}")
    return updated.data, {"instructorId": schedule_["instructorId"], "slots": schedule_["slots"]}


@case("office-hours-announcement")
def _office_hours_announcement(w):
    (posted,) = w.send(
        lambda: officehours.announcement_create(actor=w.instructor, instructor_id=w.instructor.id, message="Back soon"),
        "office-hours-announcement",
    )
    return posted.data, rest(w.student, f"/api/office-hours/queue/{w.instructor.id}/announcements")[0]


@case("course-enrolled")
def _course_enrolled(w):
    course = CourseFactory(instructor=w.instructor)
    EnrollmentFactory(course=course, user=UserFactory())
    enrolled = w.send(
        lambda: courses.enrollment_create(actor=w.instructor, course=course, user_id=w.student.id), "course-enrolled"
    )
    # `role` is the recipient's own role in the course, on the socket as in REST.
    return enrolled[0].data, rest(w.student, f"/api/courses/{course.id}")
