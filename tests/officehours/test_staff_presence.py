"""Staff presence during office hours, on real sockets (the ASGI app, PostgreSQL, the
Redis channel layer, presence's coalesced fan-out as configured): the student's queue
view names the staff who serve them, and presence tells which of them are online, live,
in the course rooms the student's socket is already in. A TA of another course of the
same instructor is neither named nor heard of."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from collab.courses.models import EnrollmentRole
from officehours import events, services
from tests.conftest import ws_connect
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.sockets import WAIT, drain, next_frame, request

pytestmark = pytest.mark.django_db(transaction=True)

sync = database_sync_to_async


@sync
def world(instructor, course):
    """`course` with student Sam and TA Tia; another course of the same instructor with
    TA Otto; the queue open by hand."""
    other = CourseFactory(instructor=instructor)
    sam, tia, otto = UserFactory(name="Sam"), UserFactory(name="Tia TA"), UserFactory(name="Otto TA")
    EnrollmentFactory(course=course, user=sam)
    EnrollmentFactory(course=course, user=tia, role=EnrollmentRole.TA)
    EnrollmentFactory(course=other, user=otto, role=EnrollmentRole.TA)
    services.queue_open(actor=instructor, instructor_id=instructor.id)
    return sam, tia, otto


async def status_of(sock, user_id, *, room: str, timeout: float = WAIT) -> str:
    """The status in the next presence frame (single or batched) about `user_id` in `room`."""

    async def wait() -> str:
        while True:
            frame = await next_frame(sock, timeout=timeout)
            if frame.get("room") != room:
                continue
            if frame["event"] == "presence-changed":
                items = [frame["data"]]
            elif frame["event"] == "presence-batch":
                items = frame["data"]["users"]
            else:
                continue
            for item in items:
                if item["userId"] == str(user_id):
                    return item["status"]

    return await asyncio.wait_for(wait(), timeout)


def online_staff(api, viewer, course_id) -> dict[str, bool]:
    users = api(viewer).get(f"/api/presence/course/{course_id}").json()["users"]
    return {item["name"]: item["staff"] for item in users}


async def test_a_student_sees_which_staff_are_online_during_office_hours(instructor, course, api):
    sam, tia, otto = await world(instructor, course)
    room = f"course-{course.id}"
    # Presence frames kept: they are what this test is about.
    ws_sam = await ws_connect(sam, ignore_events=frozenset())
    ws_tia = ws_otto = None
    try:
        ack = await request(ws_sam, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
        assert ack["event"] == "ack" and ack["data"]["viewer"] == "student" and ack["data"]["isOpen"]
        # Who serves Sam: the instructor and Tia, not the other course's Otto.
        assert ack["data"]["staff"] == [
            {"id": str(instructor.id), "name": instructor.name, "role": "instructor"},
            {"id": str(tia.id), "name": "Tia TA", "role": "ta"},
        ]
        staff_ids = {member["id"] for member in ack["data"]["staff"]}
        # Nobody of the staff is online yet.
        online = await sync(online_staff)(api, sam, course.id)
        assert online == {"Sam": False}

        ws_tia = await ws_connect(tia)
        assert await status_of(ws_sam, tia.id, room=room) == "online"
        assert str(tia.id) in staff_ids
        online = await sync(online_staff)(api, sam, course.id)
        assert online == {"Sam": False, "Tia TA": True}

        # Otto shares no course with Sam: Sam hears nothing of him.
        ws_otto = await ws_connect(otto)
        await asyncio.sleep(1.5)  # longer than a fan-out window
        heard = [frame for frame in await drain(ws_sam, quiet=1.0) if str(otto.id) in str(frame.get("data"))]
        assert heard == []

        # Tia goes invisible: to Sam she is offline, live.
        answer = await request(ws_tia, "update-presence", {"status": "offline"})
        assert answer["event"] == "ack"
        assert await status_of(ws_sam, tia.id, room=room) == "offline"
        assert await sync(online_staff)(api, sam, course.id) == {"Sam": False}

        # And back: online again, and still marked staff in the list.
        await request(ws_tia, "update-presence", {"status": "busy"})
        assert await status_of(ws_sam, tia.id, room=room) == "busy"
        assert await sync(online_staff)(api, sam, course.id) == {"Sam": False, "Tia TA": True}
    finally:
        for sock in (ws_sam, ws_tia, ws_otto):
            if sock is not None:
                await sock.disconnect()
