"""Enrolment moves a user's open sockets in and out of the course room at once."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from collab.realtime import broadcast
from collab.realtime.broadcast import broadcast_committed, broadcast_now
from collab.realtime.rooms import course_room, user_room
from tests.conftest import client_for, ws_connect
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def rest(user, method: str, path: str, body: dict | None = None):
    response = getattr(client_for(user), method)(path, body or {}, format="json")
    return response.status_code, (response.json() if response.content else None)


async def test_enrolling_moves_the_open_socket_into_the_course_room(instructor, other_student):
    course = await database_sync_to_async(CourseFactory)(instructor=instructor)
    learner = await ws_connect(other_student)
    second_tab = await ws_connect(other_student)
    try:
        # Not a member yet: course broadcasts do not reach them.
        await broadcast_now(course_room(course.id), "course-ping", {"n": 0})
        assert await learner.receive_nothing(timeout=0.3)

        status, _ = await rest(
            instructor, "post", f"/api/courses/{course.id}/enrollments", {"userId": str(other_student.id)}
        )
        assert status == 201

        _, rest_course = await rest(other_student, "get", f"/api/courses/{course.id}")
        for socket in (learner, second_tab):
            frame = await socket.receive_json_from(timeout=3)
            assert frame["event"] == "course-enrolled"
            assert frame["room"] == user_room(other_student.id)
            # The course as REST shows it (one wire format), plus the recipient's role.
            assert frame["data"] == {**rest_course, "role": "student"}
            instructor_ref = {"id": str(instructor.id), "name": instructor.name, "role": "instructor"}
            assert frame["data"]["instructor"] == instructor_ref

        await broadcast_now(course_room(course.id), "course-ping", {"n": 1})
        for socket in (learner, second_tab):
            frame = await socket.receive_json_from(timeout=3)
            assert frame == {"event": "course-ping", "room": course_room(course.id), "data": {"n": 1}}
    finally:
        await learner.disconnect()
        await second_tab.disconnect()


async def test_unenrolling_moves_the_socket_out_of_the_course_room(course, instructor, student):
    learner = await ws_connect(student)
    teacher = await ws_connect(instructor)
    try:
        # Connected as a member: already in the course room.
        await broadcast_now(course_room(course.id), "course-ping", {"n": 1})
        assert (await learner.receive_json_from(timeout=3))["data"] == {"n": 1}
        assert (await teacher.receive_json_from(timeout=3))["data"] == {"n": 1}

        status, _ = await rest(instructor, "delete", f"/api/courses/{course.id}/enrollments/{student.id}")
        assert status == 204

        frame = await learner.receive_json_from(timeout=3)
        # History (issue 13): the user room's next seq and the event's id.
        assert isinstance(frame.pop("seq"), int) and frame.pop("id")
        assert frame == {
            "event": "course-unenrolled",
            "room": user_room(student.id),
            "data": {"courseId": str(course.id)},
        }
        # The instructor is told nothing about it over their own user room.
        assert await teacher.receive_nothing(timeout=0.3)

        await broadcast_now(course_room(course.id), "course-ping", {"n": 2})
        assert await learner.receive_nothing(timeout=0.5)
        assert (await teacher.receive_json_from(timeout=3))["data"] == {"n": 2}
    finally:
        await learner.disconnect()
        await teacher.disconnect()


async def test_a_refused_enrolment_moves_no_socket(course, instructor, other_instructor, other_student):
    outsider = await ws_connect(other_student)
    try:
        status, _ = await rest(
            other_instructor, "post", f"/api/courses/{course.id}/enrollments", {"userId": str(other_student.id)}
        )
        assert status == 404
        assert await outsider.receive_nothing(timeout=0.3)
        await broadcast_now(course_room(course.id), "course-ping", {})
        assert await outsider.receive_nothing(timeout=0.3)
    finally:
        await outsider.disconnect()


async def test_creating_a_course_puts_the_instructors_sockets_in_its_room(instructor):
    teacher = await ws_connect(instructor)
    try:
        status, body = await rest(instructor, "post", "/api/courses", {"title": "Networks"})
        assert status == 201
        frame = await teacher.receive_json_from(timeout=3)
        assert frame["event"] == "course-enrolled"
        assert frame["data"]["id"] == body["id"]
        await broadcast_now(course_room(body["id"]), "course-ping", {"n": 3})
        assert (await teacher.receive_json_from(timeout=3))["data"] == {"n": 3}
    finally:
        await teacher.disconnect()


def _commit_in_the_window(monkeypatch, room: str, event: str) -> None:
    """Commits a frame of `room` after the change that grants it has committed but before
    its control message (the one that makes the user's sockets join `room`) is sent:
    the window between the grant's commit and the socket handling the control."""
    real_send = broadcast._group_send_all_sync

    def send(messages: list[tuple[str, dict]]) -> list[bool]:
        for _, message in messages:
            if message.get("type") == "room.control" and room in message.get("join", ()):
                broadcast_committed(room, event, {"n": 2})
        return real_send(messages)

    monkeypatch.setattr(broadcast, "_group_send_all_sync", send)


async def test_a_course_frame_committed_before_the_enrolment_control_arrives_reaches_the_new_member(
    instructor, other_student, monkeypatch
):
    """The socket's starting point in the course room is the room's seq as of the
    enrolment's commit, not as of the control message's arrival: a frame committed in
    between reached nobody new and was counted as delivered (only `resume` brought it)."""
    course = await database_sync_to_async(CourseFactory)(instructor=instructor)
    room = course_room(course.id)
    # Before the grant: not theirs (seq 1).
    await database_sync_to_async(broadcast_committed)(room, "test-before-grant", {"n": 1})
    learner = await ws_connect(other_student)
    try:
        _commit_in_the_window(monkeypatch, room, "test-in-the-window")  # seq 2
        status, _ = await rest(
            instructor, "post", f"/api/courses/{course.id}/enrollments", {"userId": str(other_student.id)}
        )
        assert status == 201
        monkeypatch.undo()
        await database_sync_to_async(broadcast_committed)(room, "test-after", {"n": 3})  # seq 3

        frames = [await learner.receive_json_from(timeout=3) for _ in range(3)]
        assert [(f["event"], f["room"]) for f in frames] == [
            ("course-enrolled", user_room(other_student.id)),
            ("test-in-the-window", room),
            ("test-after", room),
        ]
        assert [f["seq"] for f in frames[1:]] == [2, 3]
        assert await learner.receive_nothing(timeout=0.5)
    finally:
        await learner.disconnect()


async def test_a_course_frame_committed_before_the_enrolment_is_not_sent_to_the_new_member(instructor, other_student):
    """Joining through enrolment starts at the room's seq of the enrolment's commit:
    the course's earlier history is not replayed to the new member (the client reads the
    course over REST), as on connect."""
    course = await database_sync_to_async(CourseFactory)(instructor=instructor)
    room = course_room(course.id)
    for n in range(3):
        await database_sync_to_async(broadcast_committed)(room, "test-before-grant", {"n": n})
    learner = await ws_connect(other_student)
    try:
        status, _ = await rest(
            instructor, "post", f"/api/courses/{course.id}/enrollments", {"userId": str(other_student.id)}
        )
        assert status == 201
        assert (await learner.receive_json_from(timeout=3))["event"] == "course-enrolled"
        assert await learner.receive_nothing(timeout=0.5)
        await database_sync_to_async(broadcast_committed)(room, "test-after", {"n": 3})
        frame = await learner.receive_json_from(timeout=3)
        assert (frame["event"], frame["seq"]) == ("test-after", 4)
        assert await learner.receive_nothing(timeout=0.3)
    finally:
        await learner.disconnect()
