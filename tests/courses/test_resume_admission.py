"""`resume` never replays a course room's frames from before the user was admitted to it
(docs/protocol.md, "Sequence numbers and `resume`"): an enrolment records the room's seq
at its commit (Enrollment.admitted_seq, the seq its sockets joined at), and a resume of
the room with an older lastSeq starts there. In-process, real database, Redis and
channel layer."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from collab.courses import services as course_services
from collab.courses.models import Enrollment
from collab.realtime import outbox
from studygroups.services import groups
from tests.conftest import ws_connect
from tests.sockets import drain

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


def _group(actor, course, name: str):
    return groups.study_group_create(actor=actor, course_id=course.id, name=name)


def _seq(room: str) -> int:
    return outbox.room_seqs([room])[room]


def _resume_frames(frames: list[dict], room: str) -> list[dict]:
    return [frame for frame in frames if frame.get("room") == room and "seq" in frame]


async def _resume(comm, rooms: dict) -> tuple[list[dict], dict]:
    """(the frames sent before the ack, the ack's rooms)."""
    await comm.send_json_to({"event": "resume", "data": {"rooms": rooms}, "ref": "res"})
    before = []
    while True:
        frame = await comm.receive_json_from(timeout=5)
        if frame.get("ref") == "res":
            assert frame["event"] == "ack", frame
            return before, frame["data"]["rooms"]
        before.append(frame)


async def test_a_resume_from_zero_replays_nothing_from_before_the_enrolment(course, instructor, other_student):
    room = f"course-{course.id}"
    await db(_group)(instructor, course, "Before you came")
    learner = await ws_connect(other_student)  # not a member yet: not in the room
    try:
        await db(course_services.enrollment_create)(actor=instructor, course=course, user_id=other_student.id)
        admitted = await db(lambda: Enrollment.objects.get(course=course, user=other_student).admitted_seq)()
        assert admitted == await db(_seq)(room) > 0  # the room's seq at the enrolment's commit
        await db(_group)(instructor, course, "After you came")
        live = await drain(learner)
        assert [f["data"]["name"] for f in _resume_frames(live, room) if f["event"] == "study-group-created"] == [
            "After you came"
        ]

        before, acked = await _resume(learner, {room: 0})

        replayed = _resume_frames(before, room)
        assert all(frame["seq"] > admitted for frame in replayed)  # was: the room's whole history
        names = [frame["data"]["name"] for frame in replayed if frame["event"] == "study-group-created"]
        assert names == ["After you came"]
        assert [frame["seq"] for frame in replayed] == list(range(admitted + 1, admitted + 1 + len(replayed)))
        assert acked[room] == {"status": "resumed", "seq": await db(_seq)(room)}
    finally:
        await learner.disconnect()


async def test_a_resume_on_a_new_socket_after_the_enrolment_starts_at_the_admission(course, instructor, other_student):
    """The same on another connection (a reconnect), with any lastSeq below the admission;
    a lastSeq above it replays from there as before."""
    room = f"course-{course.id}"
    await db(_group)(instructor, course, "Old group")
    await db(_group)(instructor, course, "Another old group")
    assert await db(_seq)(room) > 1
    await db(course_services.enrollment_create)(actor=instructor, course=course, user_id=other_student.id)
    admitted = await db(_seq)(room)
    await db(_group)(instructor, course, "New group")
    await db(_group)(instructor, course, "Newer group")

    back = await ws_connect(other_student)
    try:
        before, acked = await _resume(back, {room: 1})
        names = [f["data"]["name"] for f in _resume_frames(before, room) if f["event"] == "study-group-created"]
        assert names == ["New group", "Newer group"]
        assert acked[room]["status"] == "resumed"
        await drain(back)

        before, acked = await _resume(back, {room: admitted + 1})
        assert all(frame["seq"] > admitted + 1 for frame in _resume_frames(before, room))
        assert acked[room]["status"] == "resumed"
    finally:
        await back.disconnect()


async def test_the_instructor_and_older_enrolments_resume_as_before(course, instructor, student):
    """No admission recorded (the course's own instructor; an enrolment made before it was
    kept): the retained history after lastSeq, as before."""
    room = f"course-{course.id}"
    # `student` was enrolled by the fixture, as before admitted_seq existed (None).
    assert await db(lambda: Enrollment.objects.get(course=course, user=student).admitted_seq)() is None
    await db(_group)(instructor, course, "Group")
    for user in (instructor, student):
        comm = await ws_connect(user)
        try:
            before, acked = await _resume(comm, {room: 0})
            assert [frame["seq"] for frame in _resume_frames(before, room)] == list(range(1, await db(_seq)(room) + 1))
            assert acked[room]["status"] == "resumed"
        finally:
            await comm.disconnect()
